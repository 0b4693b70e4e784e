import Foundation
import HTTP
import OperationsCore
import Runtime

/// `cdcctl report disk`: reads the containers' volumes (and their growth over `sampleSeconds`),
/// asks Prometheus for its series count, then judges with `DiskVerdict`. Thin.
public enum DiskOperation {
    public static func run(_ ws: Workspace, sampleSeconds: Double, runtime makeRuntime: MemoryOperation.RuntimeFactory = MemoryOperation.dockerCompose,
                           log: (String) -> Void = { _ in }) throws -> DiskReport {
        let m = try ws.loadManifest().manifest
        let cluster = m.cluster.name
        let dir = (try? ws.existingState()?.cluster(named: cluster))?.projectDir ?? (ws.stateDir + "/" + cluster)
        let env = ws.environment.variables
        let runtime = makeRuntime(ComposeProject(name: cluster, directory: dir), env)
        let runner = SystemProcessRunner(environment: env)
        let statuses = try runtime.services()
        let first = try DiskReader.volumes(statuses, runner: runner)
        var volumes = first
        var rates: [String: Int64] = [:]
        var note: String?
        if sampleSeconds > 0 {
            log("measuring growth over \(Int(sampleSeconds)) s …")
            let t0 = Date()
            Thread.sleep(forTimeInterval: sampleSeconds)
            volumes = try DiskReader.volumes(statuses, runner: runner)
            let elapsed = Date().timeIntervalSince(t0)
            var before: [String: Int64] = [:], after: [String: Int64] = [:]
            for v in first { before[v.service, default: 0] += v.usedBytes ?? 0 }
            for v in volumes { after[v.service, default: 0] += v.usedBytes ?? 0 }
            for (s, a) in after { rates[s] = max(0, Int64(Double(a - (before[s] ?? a)) / elapsed * 86_400)) }
            note = "rates: growth of each service's volumes over \(Int(elapsed)) s, scaled to a day (a short sample over- or under-states a bursty load)"
        } else {
            note = "no rates measured: services bounded by time (binlogs, ClickHouse TTLs, Kafka topics without retention.bytes) need --sample (e.g. --sample 600)"
        }
        return DiskVerdict.build(m, .init(volumes: volumes, ratesPerDay: rates, prometheusSeries: prometheusSeries(m.access.prometheusURL)), sampleNote: note)
    }

    /// `numSeries` of Prometheus' head block, or nil when it does not answer.
    static func prometheusSeries(_ url: String) -> Int? {
        guard let r = try? HTTPClient(retries: 0).send(HTTPRequest("GET", url + "/api/v1/status/tsdb", timeoutSeconds: 5)), r.status == 200,
              let obj = try? JSONSerialization.jsonObject(with: Data(r.text.utf8)) as? [String: Any],
              let head = (obj["data"] as? [String: Any])?["headStats"] as? [String: Any] else { return nil }
        return (head["numSeries"] as? NSNumber)?.intValue
    }
}
