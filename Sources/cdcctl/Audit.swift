import AccessAudit
import ArgumentParser
import Diagnostics
import Foundation
import Manifest
import OperationsCore

struct Audit: CdcCommand {
    static let configuration = CommandConfiguration(
        abstract: "Who can reach what: published ports, tunnel hostnames, database users and their grants. Exit 3 on anything forbidden.",
        discussion: """
            Forbidden: a tunnel route to a service without a login, an unauthenticated port bound to a non-loopback \
            address, a ClickHouse user open to every address, a MySQL user holding more than its role needs \
            (checked on the server, logged in as that user, unless --manifest-only). See docs/security.md.
            """)

    @ParentCommand var parent: CDCCtl
    var global: GlobalOptions { parent.global }

    @Flag(help: "Judge the manifest alone; do not ask MySQL for the users' grants.")
    var manifestOnly = false

    func execute(_ context: CommandContext) throws -> CommandResult {
        let m = try context.manifest().manifest
        var observation = AuditObservation()
        if !manifestOnly {
            let secrets = try context.workspace.resolveSecrets(m, persist: false)
            observation = AuditObserver.observe(m, cdcPassword: secrets.mysqlCdcPassword, appPassword: secrets.mysqlAppPassword)
        }
        let report = SecurityAudit.audit(m, observed: observation)
        var rows = [["KIND", "WHO", "REACH", "AUTHENTICATION", "GRANTS", "VERDICT"]]
        for r in report.rows {
            rows.append([r.kind.rawValue, r.subject, r.reach, r.authentication, r.grants, r.verdict.rawValue.uppercased()])
        }
        var lines = [TextTable.render(rows)]
        for r in report.rows where r.reason != nil && r.verdict != .ok {
            lines.append("\(r.verdict.rawValue): \(r.kind.rawValue) \(r.subject): \(r.reason!)")
        }
        lines += report.notes.map { "note: " + $0 }
        lines.append(report.forbidden == 0 ? "nothing forbidden (\(report.warnings) warning(s))" : "FORBIDDEN: \(report.forbidden) row(s)")
        return CommandResult(json: report, table: lines.joined(separator: "\n"), exitCode: report.forbidden == 0 ? 0 : 3,
                             detail: "\(report.forbidden) forbidden, \(report.warnings) warning(s)")
    }
}
