/// Facts derived from the manifest that several modules need (render, connect, operate).

/// Listener layout of the KRaft brokers: INTERNAL for containers on the compose network,
/// EXTERNAL published on the host, CONTROLLER for the quorum.
public enum KafkaListeners {
    public static let internalPort = 19092
    public static let controllerPort = 9093
    /// Port the EXTERNAL listener binds inside the container (published as externalPortBase + i - 1).
    public static let externalContainerPort = 9092

    public static func serviceName(_ broker: Int) -> String { "kafka-\(broker)" }

    public static func internalBootstrap(_ kafka: Kafka) -> String {
        (1...max(kafka.brokers, 1)).map { "\(serviceName($0)):\(internalPort)" }.joined(separator: ",")
    }

    public static func quorumVoters(_ kafka: Kafka) -> String {
        (1...max(kafka.brokers, 1)).map { "\($0)@\(serviceName($0)):\(controllerPort)" }.joined(separator: ",")
    }
}

/// The Debezium connector config for one manifest connector: what `render` writes and what
/// `connector register` sends. `source.engine: mysql` gets the MySQL connector, `mariadb` the
/// MariaDB connector (Debezium ≥ 2.7; no `connector.adapter`). The password is a reference
/// resolved by the worker's FileConfigProvider, never the value.
public enum DebeziumConfig {
    public static let connectorClass = "io.debezium.connector.mysql.MySqlConnector"
    public static let mariaDBConnectorClass = "io.debezium.connector.mariadb.MariaDbConnector"
    public static let passwordKey = "password"

    public static func connectorClass(engine: String) -> String {
        engine == "mariadb" ? mariaDBConnectorClass : connectorClass
    }

    public static func build(_ c: Connector, manifest m: Manifest) -> [KeyValue] {
        var config: [String: String] = [
            "connector.class": connectorClass(engine: m.source.engine),
            "tasks.max": "1",
            "database.hostname": c.databaseHost,
            "database.port": String(c.databasePort),
            "database.user": m.source.cdcUser,
            "database.password": "${file:\(m.connect.secretsFile):\(passwordKey)}",
            "database.server.id": String(c.serverId),
            "topic.prefix": c.topicPrefix,
            "database.include.list": c.databases.joined(separator: ","),
            "table.include.list": c.tables.joined(separator: ","),
            "schema.history.internal.kafka.bootstrap.servers": c.kafkaBootstrap,
            "schema.history.internal.kafka.topic": c.schemaHistoryTopic,
            "include.schema.changes": "false",
            "snapshot.mode": c.snapshotMode,
            // DECIMAL as base64 bytes is useless downstream; strings keep exact prices.
            "decimal.handling.mode": "string",
            "heartbeat.interval.ms": String(c.heartbeatIntervalMs),
            // Debezium's 500 ms default would be most of the end-to-end latency below ~4,000 changes/s.
            "poll.interval.ms": String(c.pollIntervalMs),
            "max.queue.size": String(c.maxQueueSize),
            "max.queue.size.in.bytes": String(c.maxQueueSizeBytes),
            "max.batch.size": String(c.maxBatchSize),
            "tombstones.on.delete": "true",
            // Topics the connector creates itself (heartbeat, a newly captured table) still get
            // the cluster's durability, not broker defaults.
            "topic.creation.default.replication.factor": String(m.kafka.defaults.replicationFactor),
            "topic.creation.default.partitions": "1",
            "topic.creation.default.min.insync.replicas": String(m.kafka.defaults.minInsyncReplicas),
            "topic.creation.default.cleanup.policy": "delete",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
        ]
        if m.source.engine == "mariadb" {
            // The MariaDB connector's own locking setting (the MySQL connector's enum differs);
            // MariaDB always writes GTIDs (domain-server-sequence), which the connector records
            // in its offsets by itself: there is no gtid_mode to match.
            config["snapshot.locking.mode"] = "minimal"
        }
        for extra in c.config { config[extra.key] = extra.value }
        return config.keys.sorted().map { KeyValue(key: $0, value: config[$0]!) }
    }

    /// `{"name": …, "config": {…}}` as Kafka Connect's POST /connectors takes it, keys sorted.
    public static func json(_ c: Connector, manifest m: Manifest) -> String {
        let entries = build(c, manifest: m).map { "    \(JSONText.quote($0.key)): \(JSONText.quote($0.value))" }
        return "{\n  \"name\": \(JSONText.quote(c.name)),\n  \"config\": {\n" + entries.joined(separator: ",\n") + "\n  }\n}\n"
    }
}

public enum JSONText {
    /// A JSON string literal (RFC 8259 escaping).
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
