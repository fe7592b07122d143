import Basics
import Totem

extension ProcessGroups {
    /// A process-group message in agreed order: every node that delivers it at this point of
    /// the order makes the same change and tells its own members.
    mutating func delivered(_ message: ProcessGroupMessage, from originator: NodeID) {
        guard configurationMembers.contains(originator) else {
            messagesFromDepartedNodes += 1
            return
        }
        switch message {
        case .join(let group, let connection):
            let member = ProcessGroupMember(node: originator, connection: connection)
            guard !(views[group]?.contains(member) ?? false) else { return }
            insert([member], into: group)
            notify(group, joined: [ProcessGroupMemberChange(member, .join)], left: [])
        case .leave(let group, let connection, let reason):
            let member = ProcessGroupMember(node: originator, connection: connection)
            guard remove(member, from: group) else { return }
            notify(group, joined: [], left: [ProcessGroupMemberChange(member, reason)], leaver: member)
        case .processDown(let connection):
            let member = ProcessGroupMember(node: originator, connection: connection)
            for group in views.keys.sorted() where remove(member, from: group) {
                notify(group, joined: [], left: [ProcessGroupMemberChange(member, .processDown)], leaver: member)
            }
        case .mcast(let group, let connection, let payload):
            let sender = ProcessGroupMember(node: originator, connection: connection)
            let notification = ProcessGroupNotification.message(from: sender, payload: payload)
            for member in views[group] ?? [] where member.node == nodeID {
                actions.append(.deliver(ProcessGroupDelivery(connection: member.connection, group: group,
                                                             notification: notification, isFinal: false)))
            }
        case .announce(let ring, let entries):
            guard ring == ringID else { return }
            announced(entries, by: originator)
        }
    }

    /// The announcement is the originator's whole membership list: add what it lists, and
    /// remove that node's members it does not list (they went while we were apart).
    private mutating func announced(_ entries: [ProcessGroupMessage.Announced], by node: NodeID) {
        var listed: [ProcessGroupName: [ProcessGroupMember]] = [:]
        for entry in entries {
            let member = ProcessGroupMember(node: node, connection: entry.connection)
            if !(listed[entry.group]?.contains(member) ?? false) { listed[entry.group, default: []].append(member) }
        }
        let groups = Set(listed.keys).union(views.filter { $0.value.contains { $0.node == node } }.keys).sorted()
        for group in groups {
            let wanted = listed[group] ?? []
            let gone = (views[group] ?? []).filter { $0.node == node && !wanted.contains($0) }
            for member in gone { _ = remove(member, from: group) }
            let new = wanted.filter { !(views[group]?.contains($0) ?? false) }
            if !new.isEmpty { insert(new, into: group) }
            guard !gone.isEmpty || !new.isEmpty else { continue }
            notify(group, joined: new.map { ProcessGroupMemberChange($0, .nodeUp) },
                   left: gone.map { ProcessGroupMemberChange($0, .processDown) })
        }
    }

    /// Extended virtual synchrony: a transitional configuration names who moved with us; the
    /// members of every other node leave (node down), at the same point of the order on
    /// every node that delivers it. A regular one starts the sync: each node announces.
    mutating func configurationChanged(_ change: ConfigurationChange) {
        configurationMembers = change.members
        let departed = Set(views.values.joined().map(\.node)).subtracting(change.members)
        if !departed.isEmpty {
            for group in views.keys.sorted() {
                let gone = (views[group] ?? []).filter { departed.contains($0.node) }
                guard !gone.isEmpty else { continue }
                for member in gone { _ = remove(member, from: group) }
                notify(group, joined: [], left: gone.map { ProcessGroupMemberChange($0, .nodeDown) })
            }
        }
        guard change.kind == .regular else { return }
        ringID = change.ringID
        isAnnounceDue = false
        actions.append(.broadcast(.announce(ring: change.ringID, announcement()), nil))
    }

    /// Views are kept sorted by (node, connection): nodes that learned members in different
    /// orders (two partitions merging) still list them alike.
    private mutating func insert(_ members: [ProcessGroupMember], into group: ProcessGroupName) {
        var view = views[group] ?? []
        view.append(contentsOf: members)
        view.sort()
        views[group] = view
    }

    /// Removes a member from a group's view; false if it was not there.
    private mutating func remove(_ member: ProcessGroupMember, from group: ProcessGroupName) -> Bool {
        guard var members = views[group], let at = members.firstIndex(of: member) else { return false }
        members.remove(at: at)
        views[group] = members.isEmpty ? nil : members
        return true
    }

    /// Tells the group's local members (and a local leaver, for the last time) about a change.
    private mutating func notify(_ group: ProcessGroupName, joined: [ProcessGroupMemberChange],
                                 left: [ProcessGroupMemberChange], leaver: ProcessGroupMember? = nil) {
        let members = views[group] ?? []
        let change = ProcessGroupNotification.membership(ProcessGroupChange(members: members, joined: joined, left: left))
        for member in members where member.node == nodeID {
            actions.append(.deliver(ProcessGroupDelivery(connection: member.connection, group: group,
                                                         notification: change, isFinal: false)))
        }
        if let leaver, leaver.node == nodeID {
            actions.append(.deliver(ProcessGroupDelivery(connection: leaver.connection, group: group,
                                                         notification: change, isFinal: true)))
        }
    }
}
