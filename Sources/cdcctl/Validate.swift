import ArgumentParser
import Manifest

struct Validate: CdcCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a manifest: types, unknown keys, Kafka durability rules, heaps, ports, memory budget.")

    @ParentCommand var parent: CDCCtl
    var global: GlobalOptions { parent.global }

    struct Report: Encodable {
        var manifest: String
        var valid: Bool
        var budget: MemoryBudget
        /// Loud, not fatal: e.g. a non-loopback bindAddress while Kafka and Connect speak PLAINTEXT.
        var warnings: [String]
    }

    func execute(_ context: CommandContext) throws -> CommandResult {
        let loaded = try context.manifest()
        let budget = MemoryBudget(loaded.manifest)
        let warnings = ManifestWarnings.check(loaded.manifest)
        return CommandResult(json: Report(manifest: loaded.file, valid: true, budget: budget, warnings: warnings),
                             table: "\(loaded.file): valid\n" + budget.table,
                             notes: warnings.map { "WARNING: " + $0 })
    }
}
