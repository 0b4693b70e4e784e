import Foundation

/// The Prometheus text a running producer serves on `--metrics-listen` (pure).
public enum ProducerMetrics {
    public static func text(source: String, summary s: TradeRunSummary, live: LiveFeedCounters?) -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: Double) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            out += "\(name){producer=\"trades\",source=\"\(source)\"} \(value == value.rounded() ? String(Int64(value)) : String(value))\n"
        }
        metric("cdcctl_producer_written_total", "counter", "Trades queued to the Kafka producer.", Double(s.queued))
        metric("cdcctl_producer_committed_total", "counter", "Trades the brokers acknowledged (acks=all).", Double(s.acknowledged))
        metric("cdcctl_producer_failed_total", "counter", "Deliveries the producer gave up on.", Double(s.failed))
        metric("cdcctl_producer_rate_per_second", "gauge", "Trades queued per second since the start.", s.tradesPerSecond)
        if let c = live {
            metric("cdcctl_producer_connections_total", "counter", "WebSocket connections opened.", Double(c.connections))
            metric("cdcctl_producer_reconnects_total", "counter", "WebSocket connections opened after one was lost or refused.", Double(c.reconnects))
            metric("cdcctl_producer_connect_failures_total", "counter", "WebSocket connection attempts that failed.", Double(c.connectFailures))
            metric("cdcctl_producer_rate_limited_total", "counter", "Upgrades answered 429 or 418.", Double(c.rateLimited))
            metric("cdcctl_producer_gaps_total", "counter", "Periods without a connection after one was up.", Double(c.gaps))
            metric("cdcctl_producer_frames_total", "counter", "Frames received.", Double(c.frames))
            metric("cdcctl_producer_duplicates_total", "counter", "Trades seen before, dropped.", Double(c.duplicates))
            metric("cdcctl_producer_malformed_total", "counter", "Frames not of the documented format, skipped.", Double(c.malformed))
            metric("cdcctl_producer_server_errors_total", "counter", "Error messages the server sent.", Double(c.serverErrors))
        }
        return out
    }

    /// `produce orders`: lifecycle steps (transactions).
    public static func text(orders s: OrderRunSummary) -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: Double) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            out += "\(name){producer=\"orders\"} \(value == value.rounded() ? String(Int64(value)) : String(value))\n"
        }
        metric("cdcctl_producer_written_total", "counter", "Lifecycle steps attempted (one transaction each).", Double(s.attempted))
        metric("cdcctl_producer_committed_total", "counter", "Steps whose COMMIT returned OK.", Double(s.committed))
        metric("cdcctl_producer_failed_total", "counter", "Steps not written: failed, indeterminate (lost during COMMIT) or skipped while waiting.", Double(s.unwritten))
        metric("cdcctl_producer_retries_total", "counter", "Retries while MySQL was unavailable.", Double(s.retries))
        metric("cdcctl_producer_rate_per_second", "gauge", "Steps per second since the start.", s.stepsPerSecond)
        return out
    }
}
