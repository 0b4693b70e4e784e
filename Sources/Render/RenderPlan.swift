import Checksum
import Diagnostics
import Manifest
import StarRocks

/// Which files a manifest produces and from which template.
struct RenderPlan {
    enum Source {
        case template(String)
        case generated(String)
    }

    struct Output {
        var path: String
        var source: Source
        var secret: Bool = false
        /// Extra context for templates rendered once per item (e.g. per broker).
        var context: [String: Any]? = nil
    }

    static func outputs(for m: Manifest, templates: TemplateSource) -> [Output] {
        var out: [Output] = [
            Output(path: "docker-compose.yml", source: .template("docker-compose.yml.mustache")),
            Output(path: ".env", source: .template("env.mustache"), secret: true),
            Output(path: "mysql/conf.d/cdc.cnf", source: .template("mysql/conf.d/cdc.cnf.mustache")),
            Output(path: "mysql/initdb.d/001-schema.sql", source: .template("mysql/initdb.d/001-schema.sql.mustache")),
            Output(path: "mysql/initdb.d/002-cdc-user.sh", source: .template("mysql/initdb.d/002-cdc-user.sh.mustache")),
            Output(path: "mysql/initdb.d/003-app-user.sh", source: .template("mysql/initdb.d/003-app-user.sh.mustache")),
            Output(path: "connect/worker.env", source: .template("connect/worker.env.mustache")),
            Output(path: "connect/secrets/mysql.properties", source: .template("connect/secrets/mysql.properties.mustache"), secret: true),
            Output(path: "clickhouse/config.d/low-memory.xml", source: .template("clickhouse/config.d/low-memory.xml.mustache")),
            Output(path: "clickhouse/users.d/cdcctl.xml", source: .template("clickhouse/users.d/cdcctl.xml.mustache")),  // a hash only; uid 101 must read it
            Output(path: "prometheus/prometheus.yml", source: .template("prometheus/prometheus.yml.mustache")),
            Output(path: "prometheus/rules/cdc-alerts.yml", source: .template("prometheus/rules/cdc-alerts.yml.mustache")),
            Output(path: "prometheus/rules/cdc-monitor.yml", source: .template("prometheus/rules/cdc-monitor.yml.mustache")),
            Output(path: "grafana/provisioning/datasources/datasources.yml", source: .template("grafana/provisioning/datasources/datasources.yml.mustache")),
            Output(path: "grafana/provisioning/dashboards/dashboards.yml", source: .template("grafana/provisioning/dashboards/dashboards.yml.mustache")),
            Output(path: "grafana/dashboards/cdc-pipeline.json", source: .template("grafana/dashboards/cdc-pipeline.json.mustache")),
            Output(path: "grafana/dashboards/cdc-operations.json", source: .template("grafana/dashboards/cdc-operations.json.mustache")),
        ]
        for broker in RenderContext.brokers(m) {
            out.append(Output(path: "kafka/\(broker["name"]!).env", source: .template("kafka/broker.env.mustache"),
                              context: ["broker": broker]))
        }
        for c in m.connect.connectors {
            out.append(Output(path: "connect/connectors/\(c.name).json", source: .generated(DebeziumConfig.json(c, manifest: m))))
        }
        for migration in templates.files(under: "clickhouse/migrations") {
            out.append(Output(path: String(migration.dropLast(".mustache".count)), source: .template(migration)))
        }
        if m.postgresEnabled {
            for migration in templates.files(under: "postgres/migrations") {
                out.append(Output(path: String(migration.dropLast(".mustache".count)), source: .template(migration)))
            }
        }
        if m.cloudflared.enabled {
            out.append(Output(path: "cloudflared/config.yml", source: .template("cloudflared/config.yml.mustache")))
        }
        if m.starrocks.enabled {
            let header = "cdcctl render (do not edit: change the manifest and render again)"
            out.append(Output(path: "starrocks/fe.conf", source: .template("starrocks/fe.conf.mustache")))
            out.append(Output(path: "starrocks/be.conf", source: .template("starrocks/be.conf.mustache")))
            out.append(Output(path: StarRocksSQL.tablesFile, source: .generated(StarRocksSQL.tables(m, header: header))))
            out.append(Output(path: StarRocksSQL.routineLoadFile, source: .generated(StarRocksSQL.routineLoads(m, header: header))))
        }
        return out
    }
}

/// The values templates see. Everything a template needs is computed here, so templates stay
/// logic-less and the same manifest always yields the same context.
enum RenderContext {
    static func make(_ m: Manifest, secrets: ResolvedSecrets) -> [String: Any] {
        let budget = MemoryBudget(m)
        return [
            "generatedBy": "cdcctl render (do not edit: change the manifest and render again)",
            "cluster": ["name": m.cluster.name, "bindAddress": m.cluster.bindAddress, "subnet": m.cluster.subnet],
            "source": [
                "engine": m.source.engine, "isMySQL": m.source.engine == "mysql", "isMariaDB": m.source.engine == "mariadb",
                "image": m.source.image, "memory": MemorySize.format(m.source.memoryMiB), "port": m.source.port,
                "database": m.source.database, "serverId": m.source.serverId, "gtid": m.source.gtid,
                "binlogExpireSeconds": m.source.binlogExpireSeconds, "binlogExpireDays": max(1, m.source.binlogExpireSeconds / 86_400),
                "innodbBufferPoolMiB": m.source.innodbBufferPoolMiB, "cdcUser": m.source.cdcUser,
                "appUser": m.source.appUser,
            ] as [String: Any],
            "kafka": [
                "image": m.kafka.image, "clusterId": m.kafka.clusterId, "heapMiB": m.kafka.heapMiB,
                "memory": MemorySize.format(m.kafka.memoryMiB), "brokerCount": m.kafka.brokers,
                "brokers": brokers(m), "internalBootstrap": KafkaListeners.internalBootstrap(m.kafka),
                "quorumVoters": KafkaListeners.quorumVoters(m.kafka),
                "firstBroker": KafkaListeners.serviceName(1),
                "defaultReplicationFactor": m.kafka.defaults.replicationFactor,
                "minInsyncReplicas": m.kafka.defaults.minInsyncReplicas,
                "defaultPartitions": m.kafka.defaults.partitions,
                "retentionHours": m.kafka.defaults.retentionHours, "retentionBytes": m.kafka.defaults.retentionBytes,
                "offsetsReplicationFactor": min(3, m.kafka.brokers),
                "transactionMinIsr": max(1, min(2, m.kafka.brokers - 1)),
            ] as [String: Any],
            "connect": [
                "image": m.connect.image, "heapMiB": m.connect.heapMiB, "memory": MemorySize.format(m.connect.memoryMiB),
                "port": m.connect.port, "groupId": m.connect.groupId, "secretsFile": m.connect.secretsFile,
                "secretsDir": NSStringPath(path: m.connect.secretsFile).directory,
                "internalReplicationFactor": min(3, m.kafka.brokers),
                "passwordKey": DebeziumConfig.passwordKey,
            ] as [String: Any],
            "clickhouse": [
                "image": m.clickhouse.image, "memory": MemorySize.format(m.clickhouse.memoryMiB), "httpPort": m.clickhouse.httpPort,
                "database": m.clickhouse.database, "user": m.clickhouse.user,
                "passwordSha256": SHA256.hex(secrets.clickhousePassword),
                "writerUser": m.clickhouse.writerUser, "writerPasswordSha256": SHA256.hex(secrets.clickhouseWriterPassword),
                "readerUser": m.clickhouse.readerUser, "readerPasswordSha256": SHA256.hex(secrets.clickhouseReaderPassword),
                "readerMaxExecutionSeconds": m.clickhouse.readerMaxExecutionSeconds,
                "readerMaxResultRows": m.clickhouse.readerMaxResultRows, "readerMaxRowsToRead": m.clickhouse.readerMaxRowsToRead,
                "networks": m.clickhouse.networks,
                "maxServerMemoryRatio": String(m.clickhouse.maxServerMemoryRatio),
                "markCacheBytes": m.clickhouse.markCacheMiB * 1_048_576,
                "maxThreads": m.clickhouse.maxThreads, "maxConcurrentQueries": m.clickhouse.maxConcurrentQueries,
                "openFiles": m.clickhouse.openFiles,
                "ttlRawDays": m.clickhouse.ttl.rawDays, "ttlTradesDays": m.clickhouse.ttl.tradesDays,
                "ttlAggregatesDays": m.clickhouse.ttl.aggregatesDays, "ttlAlertsDays": m.clickhouse.ttl.alertsDays,
                "windowMinutes": m.processor.windowMinutes,
            ] as [String: Any],
            "prometheus": [
                "image": m.prometheus.image, "memory": MemorySize.format(m.prometheus.memoryMiB), "port": m.prometheus.port,
                "retentionDays": m.prometheus.retentionDays, "scrapeInterval": "\(m.prometheus.scrapeIntervalSeconds)s",
            ] as [String: Any],
            "grafana": [
                "image": m.grafana.image, "memory": MemorySize.format(m.grafana.memoryMiB), "port": m.grafana.port,
                "adminUser": m.grafana.adminUser, "anonymousViewers": m.grafana.anonymousViewers,
            ] as [String: Any],
            "kafkaUI": [
                "enabled": m.kafkaUI.enabled, "image": m.kafkaUI.image, "memory": MemorySize.format(m.kafkaUI.memoryMiB),
                "heapMiB": m.kafkaUI.heapMiB, "port": m.kafkaUI.port, "login": m.kafkaUI.enabled && m.kafkaUI.login,
                "loginUser": m.kafkaUI.loginUser,
            ] as [String: Any],
            "cloudflared": [
                "enabled": m.cloudflared.enabled, "image": m.cloudflared.image, "memory": MemorySize.format(m.cloudflared.memoryMiB),
                "metricsPort": m.cloudflared.metricsPort,
                "routes": Exposure.tunnelRoutes(m).map { ["hostname": $0.hostname, "url": $0.url] },
            ] as [String: Any],
            "processor": [
                "metricsPort": m.processor.metricsPort, "consumerGroup": m.processor.consumerGroup,
                "windowMinutes": m.processor.windowMinutes,
            ] as [String: Any],
            "postgres": [
                "enabled": m.postgresEnabled, "image": m.postgres.image, "memory": MemorySize.format(m.postgres.memoryMiB),
                "port": m.postgres.port, "database": m.postgres.database, "user": m.postgres.user,
                "sharedBuffersMiB": max(16, m.postgres.memoryMiB / 4), "shmSize": MemorySize.format(max(64, m.postgres.memoryMiB / 4 + 32)),
            ] as [String: Any],
            "starrocks": [
                "enabled": m.starrocks.enabled, "feImage": m.starrocks.feImage, "beImage": m.starrocks.beImage,
                "feMemory": MemorySize.format(m.starrocks.feMemoryMiB), "beMemory": MemorySize.format(m.starrocks.beMemoryMiB),
                "feHeapMiB": m.starrocks.feHeapMiB, "queryPort": m.starrocks.queryPort, "httpPort": m.starrocks.httpPort,
                // The BE's own accounting stops at 80% of its container, its page cache at a quarter of that.
                "beProcessMemoryMiB": m.starrocks.beMemoryMiB * 4 / 5, "bePageCacheMiB": m.starrocks.beMemoryMiB / 5,
            ] as [String: Any],
            "reports": ["memoryMetricsPort": m.reports.memoryMetricsPort] as [String: Any],
            "monitor": ["port": m.monitor.port] as [String: Any],
            "connectors": m.connect.connectors.map { ["name": $0.name, "topicPrefix": $0.topicPrefix] },
            "secrets": [
                "mysqlRootPassword": secrets.mysqlRootPassword, "mysqlCdcPassword": secrets.mysqlCdcPassword,
                "mysqlAppPassword": secrets.mysqlAppPassword,
                "clickhousePassword": secrets.clickhousePassword, "grafanaAdminPassword": secrets.grafanaAdminPassword,
                "clickhouseWriterPassword": secrets.clickhouseWriterPassword, "clickhouseReaderPassword": secrets.clickhouseReaderPassword,
                "kafkaUIPassword": secrets.kafkaUIPassword,
                "cloudflareTunnelToken": secrets.cloudflareTunnelToken ?? "",
                "postgresPassword": secrets.postgresPassword,
                "volumeFingerprint": secrets.volumeFingerprint,
            ],
            "budget": ["totalMiB": budget.totalMiB, "budgetMiB": budget.budgetMiB],
        ]
    }

    static func brokers(_ m: Manifest) -> [[String: Any]] {
        (1...max(m.kafka.brokers, 1)).map { id in
            [
                "id": id, "name": KafkaListeners.serviceName(id),
                "externalPort": m.kafka.externalPortBase + id - 1,
                "advertisedHost": m.cluster.bindAddress,
                "internalPort": KafkaListeners.internalPort, "controllerPort": KafkaListeners.controllerPort,
                "externalContainerPort": KafkaListeners.externalContainerPort,
            ] as [String: Any]
        }
    }
}

/// Foundation-free dirname for a POSIX path.
struct NSStringPath {
    let path: String
    var directory: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
