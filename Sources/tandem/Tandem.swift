import ArgumentParser

/// The `tandem` command: the operator and its tools.
@main
struct Tandem: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem",
        abstract: "A Kubernetes operator for disaggregated (prefill/decode) LLM serving.",
        version: TandemVersion.current,
        subcommands: [Operator.self, NodeAgentCommand.self, Emulate.self, Load.self, Simulate.self, Render.self, Size.self, CRDs.self, Version.self]
    )
}

/// `tandem version`: prints the build's version.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print Tandem's version.")

    func run() {
        print("tandem \(TandemVersion.current)")
    }
}

enum TandemVersion {
    /// Bumped by hand at releases; `git describe` is not available in every build environment.
    static let current = "0.1.0-dev"
}
