import ArgumentParser
import Foundation
import OperationsCore
import Stack

struct Init: CdcCommand {
    static let configuration = CommandConfiguration(abstract: "Write a commented default manifest (cdcctl.yaml).")

    @ParentCommand var parent: CDCCtl
    var global: GlobalOptions { parent.global }

    @Option(help: ArgumentHelp("Profile to start from: \(InitOperation.profileList).", valueName: "profile"))
    var profile: String = "default"

    @Flag(help: "Replace an existing manifest.")
    var force = false

    struct Output: Encodable {
        var manifest: String
        var profile: String
    }

    func execute(_ context: CommandContext) throws -> CommandResult {
        let path = try InitOperation.run(context.workspace, profile: profile, force: force)
        return CommandResult(json: Output(manifest: path, profile: profile),
                             table: "wrote \(path) (\(profile) profile)\nnext: cdcctl validate -m \(path)")
    }
}
