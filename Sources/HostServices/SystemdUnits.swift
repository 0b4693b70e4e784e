import Foundation
import Manifest

/// Where the units point: the binary, the manifest and the state dir, all absolute (systemd
/// starts services in `/` with an empty environment).
public struct UnitPaths: Sendable, Equatable {
    public var binary: String
    public var manifest: String
    public var stateDir: String
    /// Carried into the units when set at render time (a librdkafka other than the system's).
    public var libraryPath: String?

    public init(binary: String, manifest: String, stateDir: String, libraryPath: String? = nil) {
        self.binary = binary
        self.manifest = manifest
        self.stateDir = stateDir
        self.libraryPath = libraryPath
    }

    /// This process's own binary (`/proc/self/exe`), and absolute forms of the given paths.
    public static func current(manifest: String, stateDir: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> UnitPaths {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return UnitPaths(binary: absolute(exe), manifest: absolute(manifest), stateDir: absolute(stateDir),
                         libraryPath: environment["LD_LIBRARY_PATH"].flatMap { $0.isEmpty ? nil : $0 })
    }

    static func absolute(_ path: String) -> String {
        let p = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return URL(fileURLWithPath: p).standardizedFileURL.path
    }
}

/// systemd units for cdcctl's host processes: the processor, the two producers and the monitor.
/// Pure: the same manifest and paths give the same bytes.
public enum SystemdUnits {
    public struct Unit: Sendable, Equatable {
        /// `cdcctl-<cluster>-processor.service`
        public var name: String
        public var role: String
        public var contents: String
    }

    /// The monitor's memory ceiling: its RSS aim is under 32 MiB (docs/benchmarks.md).
    public static let monitorMemoryMiB = 64

    public static func name(cluster: String, role: String) -> String { "cdcctl-\(cluster)-\(role).service" }

    public static func units(_ m: Manifest, paths: UnitPaths) -> [Unit] {
        let c = m.cluster.name
        let roles: [(role: String, description: String, arguments: [String], memoryMiB: Int, stopSeconds: Int)] = [
            ("processor", "cdcctl stream processor (windows, anomalies, exactly-once into ClickHouse)", ["process", "run"],
             m.processor.memoryMiB, 60),
            ("orders", "cdcctl order generator (MySQL writes Debezium captures)", ["produce", "orders"], m.producers.orders.memoryMiB, 30),
            ("trades", "cdcctl trade feed (\(m.producers.trades.source)) into Kafka", ["produce", "trades"], m.producers.trades.memoryMiB, 30),
            ("monitor", "cdcctl monitor: the whole stack's /metrics for Prometheus",
             // Prometheus runs in a container and scrapes host.docker.internal (the Docker bridge's
             // address): the default listener is loopback plus that bridge, never every interface.
             ["monitor"], monitorMemoryMiB, 15),
        ]
        return roles.map { r in
            var lines = [
                "# Rendered by cdcctl render for cluster \(c) (do not edit: change the manifest and render again).",
                "# Install: docs/operations.md (cdcctl install, or copy to /etc/systemd/system and systemctl enable --now).",
                "[Unit]",
                "Description=\(r.description) [\(c)]",
                // The containers it talks to come up with dockerd (compose's restart policy).
                "After=docker.service network-online.target",
                "Wants=network-online.target",
                // Never give up restarting (the default stops after 5 starts in 10 s).
                "StartLimitIntervalSec=0",
                "",
                "[Service]",
                "Type=simple",
                "ExecStart=\(([paths.binary] + r.arguments + ["--manifest", paths.manifest, "--state-dir", paths.stateDir]).map(quote).joined(separator: " "))",
                "WorkingDirectory=\(quote(URL(fileURLWithPath: paths.manifest).deletingLastPathComponent().path))",
                // Secrets given as env: references in the manifest come from here (mode 0600).
                "EnvironmentFile=-\(paths.stateDir)/secrets.env",
            ]
            if let lib = paths.libraryPath { lines.append("Environment=LD_LIBRARY_PATH=\(lib)") }
            // glibc gives threads their own malloc arenas (up to 8 per core), each keeping what it
            // freed: the monitor's collectors, on threads of their own, grew 5.4 KiB a scrape with
            // the default and 1.5 KiB with two arenas (docs/benchmarks.md).
            lines.append("Environment=MALLOC_ARENA_MAX=2")
            lines += [
                "Restart=always",
                "RestartSec=5",
                "MemoryMax=\(r.memoryMiB)M",
                // SIGTERM drains (flush and commit); a second signal would skip that, so wait for it.
                "KillSignal=SIGTERM",
                "KillMode=mixed",
                "TimeoutStopSec=\(r.stopSeconds)",
                "StandardOutput=journal",
                "StandardError=journal",
                "SyslogIdentifier=cdcctl-\(c)-\(r.role)",
                "NoNewPrivileges=true",
                "",
                "[Install]",
                "WantedBy=multi-user.target",
                "",
            ]
            return Unit(name: name(cluster: c, role: r.role), role: r.role, contents: lines.joined(separator: "\n"))
        }
    }

    /// systemd's quoting for ExecStart words: double quotes when a word holds a space or a quote.
    static func quote(_ word: String) -> String {
        guard word.contains(where: { $0 == " " || $0 == "\"" || $0 == "\\" || $0 == "'" }) else { return word }
        return "\"" + word.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// A unit's state as `systemctl show` reports it.
public struct UnitState: Sendable, Codable, Equatable {
    public var unit: String
    public var loadState: String
    public var activeState: String
    public var subState: String
    public var restarts: Int?
}

public enum SystemdStatus {
    /// Parses `systemctl show --property=Id,LoadState,ActiveState,SubState,NRestarts u1 u2 …` (blank-line separated).
    public static func parse(_ text: String) -> [UnitState] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var p: [String: String] = [:]
            for line in block.split(separator: "\n") {
                let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2 { p[kv[0]] = kv[1] }
            }
            guard let id = p["Id"] else { return nil }
            return UnitState(unit: id, loadState: p["LoadState"] ?? "", activeState: p["ActiveState"] ?? "", subState: p["SubState"] ?? "",
                             restarts: p["NRestarts"].flatMap { Int($0) })
        }
    }
}

extension SystemdStatus {
    /// The cluster's units where they are installed and systemd runs: nil when none is
    /// installed in `unitDir` (nothing to show), or systemd does not run here.
    public static func read(cluster: String, unitDir: String = "/etc/systemd/system") -> [UnitState]? {
        let names = ["processor", "orders", "trades", "monitor"].map { SystemdUnits.name(cluster: cluster, role: $0) }
            .filter { FileManager.default.fileExists(atPath: unitDir + "/" + $0) }
        guard !names.isEmpty, FileManager.default.fileExists(atPath: "/run/systemd/system"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/systemctl") || FileManager.default.isExecutableFile(atPath: "/bin/systemctl") else { return nil }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemctl") ? "/usr/bin/systemctl" : "/bin/systemctl")
        p.arguments = ["show", "--property=Id,LoadState,ActiveState,SubState,NRestarts"] + names
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return parse(String(decoding: data, as: UTF8.self))
    }
}
