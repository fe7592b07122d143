import ArgumentParser

@main
struct TotemKV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "totemkv",
        abstract: "A replicated log and typed key-value store ordered by the Totem single-ring protocol.",
        subcommands: [ConfigCommand.self, SimulateCommand.self, KeygenCommand.self,
                      NodeCommand.self,
                      UpCommand.self]
    )
}
