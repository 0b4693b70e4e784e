import ArgumentParser
import Diagnostics
import OperationsCore
import Stack

struct RenderCommand: CdcCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render compose and config files from the manifest into a directory.")

    @ParentCommand var parent: CDCCtl
    var global: GlobalOptions { parent.global }

    @Option(name: .customLong("out"), help: ArgumentHelp("Output directory.", valueName: "dir"))
    var outputDir: String = "out"

    @Option(help: ArgumentHelp("Directory of templates that override the built-in ones, file by file.", valueName: "dir"))
    var templates: String?

    func execute(_ context: CommandContext) throws -> CommandResult {
        var args = ["--out", outputDir]
        if let templates { args += ["--templates", templates] }
        let result = try RenderOperation.run(context.workspace, outputDir: outputDir, templatesDir: templates, arguments: args)
        var rows = [["FILE", "MODE", "BYTES", "SHA256"]]
        for f in result.files {
            rows.append([f.path, String(f.mode, radix: 8), String(f.bytes), String(f.sha256.prefix(12))])
        }
        return CommandResult(json: result, table: TextTable.render(rows) + "\n"
                                 + "rendered \(result.files.count) files for cluster \(result.cluster) into \(result.outputDir)\n"
                                 + "next: docker compose --project-directory \(result.outputDir) config -q")
    }
}
