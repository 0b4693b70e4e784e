import ArgumentParser
import Diagnostics
import Operations

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render compose and config files from the manifest into a directory.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("out"), help: ArgumentHelp("Output directory.", valueName: "dir"))
    var outputDir: String = "out"

    @Option(help: ArgumentHelp("Directory of templates that override the built-in ones, file by file.", valueName: "dir"))
    var templates: String?

    func run() throws {
        try cdcctl.run {
            var args = ["--out", outputDir]
            if let templates { args += ["--templates", templates] }
            let result = try RenderOperation.run(global.workspace, outputDir: outputDir, templatesDir: templates, arguments: args)
            switch global.output {
            case .json: try Console.json(result)
            case .table:
                var rows = [["FILE", "MODE", "BYTES", "SHA256"]]
                for f in result.files {
                    rows.append([f.path, String(f.mode, radix: 8), String(f.bytes), String(f.sha256.prefix(12))])
                }
                print(TextTable.render(rows))
                print("rendered \(result.files.count) files for cluster \(result.cluster) into \(result.outputDir)")
                print("next: docker compose --project-directory \(result.outputDir) config -q")
            }
        }
    }
}
