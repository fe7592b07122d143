import Crypto

/// Seals outgoing datagrams and opens incoming ones for one transport, following
/// docs/secauth.md (the byte layout, the key derivation and why).
///
/// AEAD suites (a cipher set): each value is a *sending session* with a random 16-byte salt
/// and a packet counter. The AES-GCM key of the session is HKDF-SHA256 of the cluster key
/// with that salt, and the nonce is the counter, so a nonce never repeats under one key
/// without relying on the birthday bound of random 96-bit nonces. Receivers derive the
/// sender's session key from the salt in the packet and keep a few in a small cache.
///
/// A value is a mutable session: copying it and sealing with both copies would reuse nonces.
/// The transport owns exactly one, inside its loop-bound state; tests make one per simulated
/// sender. Not `Sendable` (swift-crypto's keys are not), which also keeps it on one loop.
public struct PacketProtection {
    // Layout constants (docs/secauth.md). Never change them without a new format byte.
    static let formatMarker: UInt8 = 0xE1
    static let headerByteCount = 4
    static let sessionSaltByteCount = 16
    static let counterByteCount = 8
    static let gcmTagByteCount = 16
    /// Receiver-side cache of derived session keys: one per live sender (a node restarting
    /// starts a new session), so a few times the largest cluster is plenty.
    static let sessionCacheCapacity = 64

    public let suite: PacketProtectionSuite
    private let clusterKey: SymmetricKey?
    /// HMAC-only suites: the one MAC key, derived once.
    private let macKey: SymmetricKey?
    private var session: Session?
    private var sessionCache: [(salt: [UInt8], key: SymmetricKey)] = []

    private struct Session {
        var salt: [UInt8]
        var key: SymmetricKey
        var counter: UInt64
    }

    /// No protection: `seal` and `open` return the bytes as they are.
    public static var passthrough: PacketProtection { PacketProtection(uncheckedSuite: .none, key: nil) }

    /// `key` is required unless `suite` is none/none (and ignored then).
    public init(suite: PacketProtectionSuite, key: ClusterKey?) throws(PacketProtectionError) {
        if suite.isEnabled && key == nil { throw .keyRequired(suite) }
        self.init(uncheckedSuite: suite, key: key)
    }

    private init(uncheckedSuite suite: PacketProtectionSuite, key: ClusterKey?) {
        self.suite = suite
        guard suite.isEnabled, let key else {
            clusterKey = nil
            macKey = nil
            return
        }
        let material = SymmetricKey(data: key.bytes)
        clusterKey = material
        if suite.cipher == .none {
            macKey = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: material, salt: [UInt8](),
                info: Array("totemkv secauth v1 hmac-\(suite.hash.name)".utf8),
                outputByteCount: suite.hash.tagByteCount)
        } else {
            macKey = nil
        }
    }

    /// Bytes a sealed datagram adds to the packet.
    public var overheadByteCount: Int { suite.overheadByteCount }

    // MARK: Sealing

    /// The datagram that carries `packet`.
    public mutating func seal(_ packet: [UInt8]) -> [UInt8] {
        guard suite.isEnabled else { return packet }
        if suite.cipher != .none { return sealAEAD(packet) }
        return sealMAC(packet)
    }

    private var header: [UInt8] {
        [Self.formatMarker, suite.cipher.rawValue, suite.hash.rawValue, 0]
    }

    private mutating func sealAEAD(_ packet: [UInt8]) -> [UInt8] {
        // A fresh session at the first packet, and after 2^64 - 1 packets (never, in practice):
        // the counter must not wrap under one key.
        if session == nil || session?.counter == UInt64.max {
            session = makeSession()
        }
        guard var current = session else { preconditionFailure("PacketProtection: no session") }
        let counter = current.counter
        current.counter += 1
        session = current

        var prefix = header
        prefix.reserveCapacity(Self.headerByteCount + Self.sessionSaltByteCount + Self.counterByteCount)
        prefix.append(contentsOf: current.salt)
        appendLittleEndian(counter, to: &prefix)
        do {
            let box = try AES.GCM.seal(packet, using: current.key, nonce: Self.nonce(counter),
                                       authenticating: prefix)
            var datagram = prefix
            datagram.reserveCapacity(prefix.count + packet.count + Self.gcmTagByteCount)
            datagram.append(contentsOf: box.ciphertext)
            datagram.append(contentsOf: box.tag)
            return datagram
        } catch {
            // AES-GCM sealing fails only on a bad key size or nonce, both fixed here.
            preconditionFailure("PacketProtection: AES-GCM seal failed: \(error)")
        }
    }

    private func sealMAC(_ packet: [UInt8]) -> [UInt8] {
        guard let macKey else { preconditionFailure("PacketProtection: no MAC key for \(suite)") }
        var datagram = header
        datagram.reserveCapacity(Self.headerByteCount + packet.count + suite.hash.tagByteCount)
        datagram.append(contentsOf: packet)
        datagram.append(contentsOf: Self.mac(datagram, hash: suite.hash, key: macKey))
        return datagram
    }

    private func makeSession() -> Session {
        guard let clusterKey else { preconditionFailure("PacketProtection: no key for \(suite)") }
        var generator = SystemRandomNumberGenerator()
        var salt = [UInt8]()
        salt.reserveCapacity(Self.sessionSaltByteCount)
        appendLittleEndian(generator.next(), to: &salt)
        appendLittleEndian(generator.next(), to: &salt)
        return Session(salt: salt, key: Self.sessionKey(clusterKey, salt: salt, cipher: suite.cipher),
                       counter: 0)
    }

    // MARK: Opening

    /// The packet inside `datagram`, or why it was rejected. A rejected datagram must be
    /// dropped without looking at its bytes any further.
    public mutating func open(_ datagram: [UInt8]) -> Result<[UInt8], ProtectionRejection> {
        guard suite.isEnabled else { return .success(datagram) }
        guard datagram.count >= suite.overheadByteCount else { return .failure(.tooShort) }
        guard datagram[0] == Self.formatMarker, datagram[3] == 0 else { return .failure(.notProtected) }
        guard datagram[1] == suite.cipher.rawValue, datagram[2] == suite.hash.rawValue else {
            return .failure(.suiteMismatch)
        }
        if suite.cipher != .none { return openAEAD(datagram) }
        return openMAC(datagram)
    }

    private mutating func openAEAD(_ datagram: [UInt8]) -> Result<[UInt8], ProtectionRejection> {
        guard let clusterKey else { preconditionFailure("PacketProtection: no key for \(suite)") }
        let saltStart = Self.headerByteCount
        let counterStart = saltStart + Self.sessionSaltByteCount
        let bodyStart = counterStart + Self.counterByteCount
        let tagStart = datagram.count - Self.gcmTagByteCount  // >= bodyStart: length checked
        let salt = Array(datagram[saltStart..<counterStart])
        var counter: UInt64 = 0
        for (shift, byte) in datagram[counterStart..<bodyStart].enumerated() {
            counter |= UInt64(byte) << UInt64(8 * shift)
        }

        let cached = sessionCache.firstIndex { $0.salt == salt }
        let key = cached.map { sessionCache[$0].key }
            ?? Self.sessionKey(clusterKey, salt: salt, cipher: suite.cipher)
        let plaintext: [UInt8]
        do {
            let box = try AES.GCM.SealedBox(nonce: Self.nonce(counter),
                                            ciphertext: datagram[bodyStart..<tagStart],
                                            tag: datagram[tagStart...])
            plaintext = Array(try AES.GCM.open(box, using: key,
                                                authenticating: datagram[..<bodyStart]))
        } catch {
            return .failure(.authenticationFailed)
        }
        // Only an authentic packet may enter the cache, so forged salts cannot evict the
        // sessions of real members.
        if cached == nil {
            if sessionCache.count >= Self.sessionCacheCapacity { sessionCache.removeFirst() }
            sessionCache.append((salt, key))
        }
        return .success(plaintext)
    }

    private func openMAC(_ datagram: [UInt8]) -> Result<[UInt8], ProtectionRejection> {
        guard let macKey else { preconditionFailure("PacketProtection: no MAC key for \(suite)") }
        let tagStart = datagram.count - suite.hash.tagByteCount
        let signed = datagram[..<tagStart]
        let tag = datagram[tagStart...]
        guard Self.isValidMAC(tag, for: signed, hash: suite.hash, key: macKey) else {
            return .failure(.authenticationFailed)
        }
        return .success(Array(datagram[Self.headerByteCount..<tagStart]))
    }

    // MARK: Keys and primitives

    static func sessionKey(_ clusterKey: SymmetricKey, salt: [UInt8],
                           cipher: PacketProtectionSuite.Cipher) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: clusterKey, salt: salt,
                               info: Array("totemkv secauth v1 \(cipher.name)-gcm".utf8),
                               outputByteCount: cipher.keyByteCount)
    }

    /// 4 zero bytes, then the counter little-endian.
    static func nonce(_ counter: UInt64) -> AES.GCM.Nonce {
        var bytes: [UInt8] = [0, 0, 0, 0]
        appendLittleEndian(counter, to: &bytes)
        do {
            return try AES.GCM.Nonce(data: bytes)
        } catch {
            preconditionFailure("PacketProtection: a 12-byte nonce was refused: \(error)")
        }
    }

    static func mac(_ bytes: [UInt8], hash: PacketProtectionSuite.Hash, key: SymmetricKey) -> [UInt8] {
        switch hash {
        case .none: []
        case .md5: Array(HMAC<Insecure.MD5>.authenticationCode(for: bytes, using: key))
        case .sha1: Array(HMAC<Insecure.SHA1>.authenticationCode(for: bytes, using: key))
        case .sha256: Array(HMAC<SHA256>.authenticationCode(for: bytes, using: key))
        case .sha384: Array(HMAC<SHA384>.authenticationCode(for: bytes, using: key))
        case .sha512: Array(HMAC<SHA512>.authenticationCode(for: bytes, using: key))
        }
    }

    /// Constant-time comparison (swift-crypto's), so a forger learns nothing from timing.
    static func isValidMAC(_ tag: ArraySlice<UInt8>, for bytes: ArraySlice<UInt8>,
                           hash: PacketProtectionSuite.Hash, key: SymmetricKey) -> Bool {
        switch hash {
        case .none:
            return false
        case .md5:
            return HMAC<Insecure.MD5>.isValidAuthenticationCode(tag, authenticating: bytes, using: key)
        case .sha1:
            return HMAC<Insecure.SHA1>.isValidAuthenticationCode(tag, authenticating: bytes, using: key)
        case .sha256:
            return HMAC<SHA256>.isValidAuthenticationCode(tag, authenticating: bytes, using: key)
        case .sha384:
            return HMAC<SHA384>.isValidAuthenticationCode(tag, authenticating: bytes, using: key)
        case .sha512:
            return HMAC<SHA512>.isValidAuthenticationCode(tag, authenticating: bytes, using: key)
        }
    }
}

/// Why `PacketProtection.open` dropped a datagram. Raw values are stable (they index counters).
public enum ProtectionRejection: UInt8, Error, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Shorter than the protection's own overhead.
    case tooShort = 0
    /// No protection header: a node without secauth, or not a TotemKV packet at all.
    case notProtected = 1
    /// Protected with another cipher or hash than ours: a node configured differently.
    case suiteMismatch = 2
    /// The tag does not verify: another key, or the bytes were changed on the way.
    case authenticationFailed = 3

    public var description: String {
        switch self {
        case .tooShort: "too short"
        case .notProtected: "not protected"
        case .suiteMismatch: "cipher/hash mismatch"
        case .authenticationFailed: "authentication failed"
        }
    }
}

private func appendLittleEndian(_ value: UInt64, to bytes: inout [UInt8]) {
    for shift in stride(from: 0, to: 64, by: 8) {
        bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
    }
}
