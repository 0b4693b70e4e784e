import Checksum
import Diagnostics
import Foundation
import Manifest

/// Secret values resolved from the manifest's references, for the files that must hold them
/// (`.env`, the Connect secrets file; both mode 0600).
public struct ResolvedSecrets: Sendable, Equatable {
    public var mysqlRootPassword: String
    public var mysqlCdcPassword: String
    public var clickhousePassword: String
    public var grafanaAdminPassword: String
    public var cloudflareTunnelToken: String?
    /// The order generator's user (`source.appUser`).
    public var mysqlAppPassword: String
    /// The processor's ClickHouse user (`clickhouse.writerUser`).
    public var clickhouseWriterPassword: String
    /// Grafana's read-only ClickHouse user (`clickhouse.readerUser`).
    public var clickhouseReaderPassword: String
    /// kafka-ui's login (`kafkaUI.login`).
    public var kafkaUIPassword: String
    /// The PostgreSQL sink's user (`postgres.user`); empty unless `processor.sinks` has postgres.
    public var postgresPassword: String = ""

    public init(mysqlRootPassword: String, mysqlCdcPassword: String, clickhousePassword: String,
                grafanaAdminPassword: String, cloudflareTunnelToken: String?, mysqlAppPassword: String = "",
                clickhouseWriterPassword: String = "", clickhouseReaderPassword: String = "", kafkaUIPassword: String = "") {
        self.clickhouseWriterPassword = clickhouseWriterPassword
        self.clickhouseReaderPassword = clickhouseReaderPassword
        self.kafkaUIPassword = kafkaUIPassword
        self.mysqlRootPassword = mysqlRootPassword
        self.mysqlCdcPassword = mysqlCdcPassword
        self.mysqlAppPassword = mysqlAppPassword
        self.clickhousePassword = clickhousePassword
        self.grafanaAdminPassword = grafanaAdminPassword
        self.cloudflareTunnelToken = cloudflareTunnelToken
    }

    /// A fingerprint of the secrets that data volumes keep from their first start (MySQL's root
    /// and CDC users, Grafana's admin): a label on those containers, so that `up` can refuse to
    /// recreate them with other secrets (a render from another state dir generated new ones).
    /// 16 hex digits of SHA-256 over the values; it reveals nothing `docker inspect` does not.
    /// (The app user's password is left out so clusters made before it existed keep their
    /// fingerprint; a volume that predates it has no app user at all, see docs/producers.md.)
    public var volumeFingerprint: String {
        String(SHA256.hex(["cdcctl-volume-secrets-v1", mysqlRootPassword, mysqlCdcPassword, grafanaAdminPassword]
            .joined(separator: "\u{0}")).prefix(16))
    }

    /// Every value, for log redaction.
    public var all: [String] {
        [mysqlRootPassword, mysqlCdcPassword, mysqlAppPassword, clickhousePassword, clickhouseWriterPassword, clickhouseReaderPassword,
         grafanaAdminPassword, kafkaUIPassword] + (postgresPassword.isEmpty ? [] : [postgresPassword]) + (cloudflareTunnelToken.map { [$0] } ?? [])
    }
}

/// Resolves `env:NAME`, `file:PATH` and `generate` references. Generated secrets are kept in
/// `<state dir>/secrets.env` (mode 0600) so every render of a cluster writes the same values.
public struct SecretResolver {
    public var environment: [String: String]
    public var storePath: String
    public var random: () -> UInt64

    public init(environment: [String: String], storePath: String,
                random: @escaping () -> UInt64 = { UInt64.random(in: .min ... .max) }) {
        self.environment = environment
        self.storePath = storePath
        self.random = random
    }

    public func resolve(_ manifest: Manifest, persist: Bool = true) throws -> ResolvedSecrets {
        var store = SecretStoreFile.read(storePath)
        var changed = false
        var errors: [CdcError] = []
        func value(_ field: String, _ reference: String) -> String {
            switch SecretRef(reference) {
            case .env(let name):
                if let v = environment[name], !v.isEmpty { return v }
                errors.append(.invalid("references the environment variable \(name), which is not set", subject: "secrets.\(field)",
                                       fix: "export \(name)=… before running cdcctl, or use `generate`"))
                return ""
            case .file(let path):
                guard let data = FileManager.default.contents(atPath: path),
                      let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
                    errors.append(.invalid("references \(path), which cannot be read or is empty", subject: "secrets.\(field)",
                                           fix: "write the secret to that file (mode 0600)"))
                    return ""
                }
                return text
            case .empty:
                return ""
            case .generate:
                if let v = store[field] { return v }
                let v = generatePassword()
                store[field] = v
                changed = true
                return v
            case nil:
                errors.append(.invalid("is not a secret reference", subject: "secrets.\(field)", fix: "use env:NAME, file:PATH or generate"))
                return ""
            }
        }
        let s = manifest.secrets
        var resolved = ResolvedSecrets(
            mysqlRootPassword: value("mysqlRootPassword", s.mysqlRootPassword),
            mysqlCdcPassword: value("mysqlCdcPassword", s.mysqlCdcPassword),
            clickhousePassword: value("clickhousePassword", s.clickhousePassword),
            grafanaAdminPassword: value("grafanaAdminPassword", s.grafanaAdminPassword),
            cloudflareTunnelToken: manifest.cloudflared.enabled ? value("cloudflareTunnelToken", s.cloudflareTunnelToken) : nil,
            mysqlAppPassword: value("mysqlAppPassword", s.mysqlAppPassword),
            clickhouseWriterPassword: value("clickhouseWriterPassword", s.clickhouseWriterPassword),
            clickhouseReaderPassword: value("clickhouseReaderPassword", s.clickhouseReaderPassword),
            kafkaUIPassword: manifest.kafkaUI.enabled && manifest.kafkaUI.login ? value("kafkaUIPassword", s.kafkaUIPassword) : "")
        if manifest.postgresEnabled { resolved.postgresPassword = value("postgresPassword", s.postgresPassword) }
        for (field, v) in [("mysqlRootPassword", resolved.mysqlRootPassword), ("mysqlCdcPassword", resolved.mysqlCdcPassword),
                           ("mysqlAppPassword", resolved.mysqlAppPassword),
                           ("clickhousePassword", resolved.clickhousePassword), ("grafanaAdminPassword", resolved.grafanaAdminPassword),
                           ("clickhouseWriterPassword", resolved.clickhouseWriterPassword),
                           ("clickhouseReaderPassword", resolved.clickhouseReaderPassword), ("kafkaUIPassword", resolved.kafkaUIPassword),
                           ("cloudflareTunnelToken", resolved.cloudflareTunnelToken ?? ""), ("postgresPassword", resolved.postgresPassword)]
            where v.contains(where: { $0 == "'" || $0 == "\\" || $0 == "\n" || $0 == "$" }) {
            // They are written into .env, SQL and Java properties files unescaped.
            errors.append(.invalid("the secret's value contains a quote, backslash, newline or $", subject: "secrets.\(field)",
                                   fix: "use letters, digits and punctuation other than ' \\ $ (or `generate`)"))
        }
        if !errors.isEmpty { throw CdcErrors(errors) }
        if changed && persist { try SecretStoreFile.write(store, to: storePath) }
        return resolved
    }

    /// 32 characters of [A-Za-z0-9]: safe in shell, SQL, YAML and URLs without quoting.
    func generatePassword() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<32).map { _ in alphabet[Int(random() % UInt64(alphabet.count))] })
    }
}

enum SecretStoreFile {
    static func read(_ path: String) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else { return [:] }
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            out[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return out
    }

    static func write(_ values: [String: String], to path: String) throws {
        let text = "# cdcctl generated secrets; keep private (mode 0600)\n"
            + values.keys.sorted().map { "\($0)=\(values[$0]!)\n" }.joined()
        try AtomicFile.write(text, to: path, mode: 0o600)
    }
}
