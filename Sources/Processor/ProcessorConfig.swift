import Manifest

/// What the engine needs from the manifest's `processor` section, in milliseconds.
public struct ProcessorConfig: Sendable, Equatable {
    public var tradesTopic: String
    public var ordersTopic: String
    public var executionsTopic: String
    public var windowMinutes: Int
    public var watermarkDelayMs: Int64
    public var allowedLatenessMs: Int64
    public var anomalies: Anomalies
    /// A symbol's rolling price statistics are reset once it has not traded for this long in
    /// event time. Bounds memory for symbols that stop trading, and how far back a restart must
    /// replay. Defaults to the volume rule's look-back, volumeWindows × windowMinutes.
    public var priceHistoryMs: Int64
    /// A trade whose event time is more than this ahead of its Kafka timestamp (or, when the
    /// record has none, of its partition's highest event time) is quarantined, not applied.
    public var maxFutureSkewMs: Int64
    /// `anomalies.oversizedOrderNotional` as an exact decimal: the rule compares in FixedDecimal.
    public var oversizedOrderLimit: FixedDecimal

    public var windowMs: Int64 { Int64(windowMinutes) * 60_000 }

    public init(tradesTopic: String, ordersTopic: String, executionsTopic: String, windowMinutes: Int,
                watermarkDelaySeconds: Int, allowedLatenessSeconds: Int, anomalies: Anomalies, priceHistoryMs: Int64? = nil,
                maxFutureSkewSeconds: Int = 300) {
        precondition(windowMinutes > 0 && watermarkDelaySeconds >= 0 && allowedLatenessSeconds >= 0,
                     "validated by the manifest: window > 0, delay and lateness ≥ 0")
        precondition(anomalies.priceWindow >= 2 && anomalies.volumeWindows >= 1, "validated by the manifest")
        self.tradesTopic = tradesTopic
        self.ordersTopic = ordersTopic
        self.executionsTopic = executionsTopic
        self.windowMinutes = windowMinutes
        self.watermarkDelayMs = Int64(watermarkDelaySeconds) * 1000
        self.allowedLatenessMs = Int64(allowedLatenessSeconds) * 1000
        self.anomalies = anomalies
        self.priceHistoryMs = priceHistoryMs ?? Int64(anomalies.volumeWindows) * Int64(windowMinutes) * 60_000
        self.maxFutureSkewMs = Int64(maxFutureSkewSeconds) * 1000
        self.oversizedOrderLimit = FixedDecimal.exactly(anomalies.oversizedOrderNotional)
    }

    /// The settings of a validated manifest. The executions topic is the connector's topic for
    /// `<source database>.order_executions`.
    public init(manifest m: Manifest) {
        let p = m.processor
        let table = "\(m.source.database).order_executions"
        let connector = m.connect.connectors.first { $0.tables.contains(table) }
        self.init(tradesTopic: p.tradesTopic, ordersTopic: p.ordersTopic,
                  executionsTopic: connector?.topic(for: table) ?? "cdc.\(table)",
                  windowMinutes: p.windowMinutes, watermarkDelaySeconds: p.watermarkDelaySeconds,
                  allowedLatenessSeconds: p.allowedLatenessSeconds, anomalies: p.anomalies,
                  maxFutureSkewSeconds: p.maxFutureSkewSeconds)
    }

    /// The settings of an empty manifest: the 16 GB profile's defaults (tests, the benchmark).
    public static let defaults: ProcessorConfig = {
        // An empty manifest always parses: every field has a default.
        let m = try! ManifestLoader.parse("apiVersion: cdcctl/v1\n", file: "defaults").manifest
        return ProcessorConfig(manifest: m)
    }()
}
