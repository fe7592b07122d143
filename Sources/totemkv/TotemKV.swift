import ArgumentParser

@main
struct TotemKV: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "totemkv",
        abstract: "A replicated log and typed key-value store ordered by the Totem single-ring protocol.",
        subcommands: [ConfigCommand.self, NodeCommand.self, UpCommand.self, SimulateCommand.self, KeygenCommand.self,
                      CheckCommand.self, GetCommand.self, SetCommand.self, DelCommand.self, KeysCommand.self,
                      CMapSetCommand.self, CMapGetCommand.self, CMapListCommand.self, TrackCommand.self,
                      StatusCommand.self, CLICommand.self, BenchCommand.self,
                      QuorumCommand.self, CPGCommand.self]
    )
}
