import ArgumentParser
import Operations

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a commented default manifest (cdcctl.yaml).")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Profile to start from: default (16 GB box) or lean.")
    var profile: String = "default"

    @Flag(help: "Replace an existing manifest.")
    var force = false

    func run() throws {
        try cdcctl.run {
            let path = try InitOperation.run(global.workspace, profile: profile, force: force)
            print("wrote \(path) (\(profile) profile)")
            print("next: cdcctl validate -m \(path)")
        }
    }
}
