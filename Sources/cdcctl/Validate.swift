import ArgumentParser
import Manifest

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a manifest: types, unknown keys, Kafka durability rules, heaps, ports, memory budget.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try cdcctl.run {
            let loaded = try global.workspace.loadManifest()
            let budget = MemoryBudget(loaded.manifest)
            switch global.output {
            case .json:
                try Console.json(ValidateReport(manifest: loaded.file, valid: true, budget: budget))
            case .table:
                print("\(loaded.file): valid")
                print(budget.table)
            }
        }
    }
}

struct ValidateReport: Encodable {
    var manifest: String
    var valid: Bool
    var budget: MemoryBudget
}
