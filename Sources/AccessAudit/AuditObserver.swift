import Manifest
import MySQL

/// The thin part of the audit: each MySQL user's own `SHOW GRANTS`, logged in as that user (no
/// root needed; a user can always read its own grants).
public enum AuditObserver {
    public static func observe(_ m: Manifest, cdcPassword: String, appPassword: String) -> AuditObservation {
        func grants(_ user: String, _ password: String) -> Result<[String], AuditUnreachable> {
            do {
                let c = try MySQLConnection(MySQLEndpoint(host: m.access.mysqlHost, port: m.access.mysqlPort, user: user, password: password))
                return .success(try c.query("SHOW GRANTS").firstColumn)
            } catch {
                return .failure(AuditUnreachable("\(error)"))
            }
        }
        return AuditObservation(cdcGrants: grants(m.source.cdcUser, cdcPassword), appGrants: grants(m.source.appUser, appPassword))
    }
}
