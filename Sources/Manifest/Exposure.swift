/// Who can reach what: each service the stack publishes (a host port, a tunnel hostname) with the
/// authentication it asks for, derived from the manifest alone. `validate` refuses a tunnel route
/// to a service without authentication; `cdcctl audit` prints the whole table.
public enum Authentication: String, Sendable, Codable, Equatable {
    /// A login (user and password) before anything is shown.
    case login
    /// A login, and visitors without one see dashboards as Viewer (grafana.anonymousViewers).
    case loginAnonymousViewer = "login+anonymous-viewer"
    /// A password per request (ClickHouse's HTTP users, MySQL).
    case password
    /// Nobody is asked anything.
    case none
}

public struct PublishedService: Sendable, Codable, Equatable {
    /// The compose service (`grafana`, `kafka-ui`, `kafka-1`, …).
    public var service: String
    /// Port inside the container.
    public var containerPort: Int
    public var hostPort: Int?
    public var authentication: Authentication
    /// What a caller reaches and how: one short sentence.
    public var note: String
}

public enum Exposure {
    /// The services a tunnel may name in `cloudflared.publish`, with their container ports.
    public static let tunnelTargets: [(service: String, port: Int)] = [
        ("grafana", 3000), ("kafka-ui", 8080), ("prometheus", 9090), ("connect", 8083), ("clickhouse", 8123),
    ]

    /// Every service with a host port, in compose order, and its authentication.
    public static func services(_ m: Manifest) -> [PublishedService] {
        var out: [PublishedService] = [
            PublishedService(service: "mysql", containerPort: 3306, hostPort: m.source.port, authentication: .password,
                             note: "root (bootstrap only), \(m.source.cdcUser) (CDC), \(m.source.appUser) (orders)"),
        ]
        for i in 1...max(1, m.kafka.brokers) {
            out.append(PublishedService(service: KafkaListeners.serviceName(i), containerPort: KafkaListeners.externalContainerPort,
                                        hostPort: m.kafka.externalPortBase + i - 1, authentication: .none,
                                        note: "Kafka PLAINTEXT listener: every topic readable and writable"))
        }
        out.append(PublishedService(service: "connect", containerPort: 8083, hostPort: m.connect.port, authentication: .none,
                                    note: "Kafka Connect REST: connectors can be created, changed and deleted"))
        out.append(PublishedService(service: "clickhouse", containerPort: 8123, hostPort: m.clickhouse.httpPort, authentication: .password,
                                    note: "HTTP interface: users \(m.clickhouse.user), \(m.clickhouse.writerUser), \(m.clickhouse.readerUser)"))
        out.append(PublishedService(service: "prometheus", containerPort: 9090, hostPort: m.prometheus.port, authentication: .none,
                                    note: "metrics and the admin API (--web.enable-lifecycle)"))
        out.append(PublishedService(service: "grafana", containerPort: 3000, hostPort: m.grafana.port,
                                    authentication: m.grafana.anonymousViewers ? .loginAnonymousViewer : .login,
                                    note: m.grafana.anonymousViewers ? "admin \(m.grafana.adminUser); visitors are Viewers of the provisioned organisation"
                                                                     : "admin \(m.grafana.adminUser); no anonymous access"))
        if m.kafkaUI.enabled {
            out.append(PublishedService(service: "kafka-ui", containerPort: 8080, hostPort: m.kafkaUI.port,
                                        authentication: m.kafkaUI.login ? .login : .none,
                                        note: m.kafkaUI.login ? "login form, user \(m.kafkaUI.loginUser); read-only: shows every topic's messages"
                                                              : "no login: shows every topic's messages to anyone who reaches it"))
        }
        if m.postgresEnabled {
            out.append(PublishedService(service: "postgres", containerPort: 5432, hostPort: m.postgres.port, authentication: .password,
                                        note: "PostgreSQL sink: user \(m.postgres.user) owns \(m.postgres.database)"))
        }
        return out
    }

    /// The authentication of a service the tunnel may publish; nil for a name that is not one.
    public static func authentication(of service: String, _ m: Manifest) -> Authentication? {
        guard tunnelTargets.contains(where: { $0.service == service }) else { return nil }
        if service == "kafka-ui" && !m.kafkaUI.enabled { return nil }
        return services(m).first { $0.service == service }?.authentication
    }

    /// The ingress routes the tunnel renders: `<service>.<domain>` → the service's container port.
    public static func tunnelRoutes(_ m: Manifest) -> [(hostname: String, service: String, url: String)] {
        guard m.cloudflared.enabled else { return [] }
        return m.cloudflared.publish.compactMap { name in
            guard let target = tunnelTargets.first(where: { $0.service == name }),
                  let auth = authentication(of: name, m), auth != .none else { return nil }
            return (hostname: "\(name).\(m.cloudflared.domain)", service: name, url: "http://\(name):\(target.port)")
        }
    }

    /// Whether an address only this host can reach (127.0.0.0/8, ::1, localhost).
    public static func isLoopback(_ address: String) -> Bool {
        address == "localhost" || address == "::1" || address == "[::1]" || address.hasPrefix("127.")
    }
}
