import Foundation
import TestSupport
import XCTest

/// Issue 21 §5: no secret in any subprocess's arguments (what `ps` shows). cdcctl starts
/// subprocesses at one point (`SystemProcessRunner`: docker and compose); here a stand-in
/// `docker` on PATH records its own /proc/self/cmdline — exactly what `ps` would show — for
/// every call `up`, `status`, `report memory` and `down` make, and the test looks for every
/// secret value in them, in cdcctl's output and in the state store's journal.
final class SecretArgumentsTests: XCTestCase {
    func testNoSecretReachesAnySubprocessArgumentOutputOrJournal() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let bin = dir + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let log = dir + "/argv.log"
        // A named stand-in for the Docker CLI: records its argv, answers the queries cdcctl makes
        // with "no containers", and refuses to start any (compose up exits 1).
        try """
            #!/bin/sh
            tr '\\0' ' ' < /proc/$$/cmdline >> "\(log)"; echo >> "\(log)"
            case "$*" in
              *"compose version"*) echo 2.29.7 ;;
              *" up "*|*" up") echo "stand-in docker: not starting containers" >&2; exit 1 ;;
              inspect*) echo "[]" ;;
            esac
            exit 0
            """.write(toFile: bin + "/docker", atomically: true, encoding: .utf8)
        chmod(bin + "/docker", 0o755)

        let suffix = String(UUID().uuidString.prefix(8))
        let secrets = [
            "SEC_ROOT": "RootSecret-\(suffix)-1", "SEC_CDC": "CdcSecret-\(suffix)-2", "SEC_APP": "AppSecret-\(suffix)-3",
            "SEC_CH": "ChAdminSecret-\(suffix)-4", "SEC_CHW": "ChWriterSecret-\(suffix)-5", "SEC_CHR": "ChReaderSecret-\(suffix)-6",
            "SEC_GF": "GrafanaSecret-\(suffix)-7", "SEC_UI": "KafkaUISecret-\(suffix)-8", "SEC_TUNNEL": "TunnelToken-\(suffix)-9",
        ]
        try """
            apiVersion: cdcctl/v1
            cluster:
              name: secargv-\(suffix.lowercased())
            secrets:
              mysqlRootPassword: env:SEC_ROOT
              mysqlCdcPassword: env:SEC_CDC
              mysqlAppPassword: env:SEC_APP
              clickhousePassword: env:SEC_CH
              clickhouseWriterPassword: env:SEC_CHW
              clickhouseReaderPassword: env:SEC_CHR
              grafanaAdminPassword: env:SEC_GF
              kafkaUIPassword: env:SEC_UI
              cloudflareTunnelToken: env:SEC_TUNNEL
            kafkaUI:
              login: true
            cloudflared:
              enabled: true
              publish: [grafana, kafka-ui]
            """.write(toFile: dir + "/cdcctl.yaml", atomically: true, encoding: .utf8)
        var env = secrets
        env["PATH"] = bin + ":/usr/bin:/bin"
        env["HOME"] = dir
        env["DOCKER_HOST"] = "unix://\(dir)/no-such-docker.sock"
        let cli = CLI(directory: dir, environment: env)

        var outputs: [String] = []
        // up fails at compose up (1), status and report find no containers (3), down and audit succeed.
        for (args, expected) in [(["up", "--timeout", "20"], 1), (["status"], 3), (["report", "memory"], 3), (["down"], 0),
                                 (["audit", "--manifest-only"], 0)] as [([String], Int32)] {
            let r = try cli(args)
            outputs.append(r.output)
            XCTAssertEqual(r.status, expected, "\(args): \(r.output)")
        }
        // The paths ran: compose up was asked (and refused by the stand-in), containers were listed.
        let recorded = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertTrue(recorded.contains { $0.contains(" compose ") && $0.hasSuffix(" up --detach --remove-orphans ") || $0.contains(" up ") },
                      "no compose up among: \(recorded)")
        XCTAssertTrue(recorded.contains { $0.contains("ps --all") }, "no container listing among: \(recorded)")
        XCTAssertTrue(recorded.contains { $0.contains(" down") }, "no compose down among: \(recorded)")
        XCTAssertGreaterThanOrEqual(recorded.count, 5)

        let journal = String(decoding: FileManager.default.contents(atPath: dir + "/state/state.db") ?? Data(), as: UTF8.self)
        XCTAssertFalse(journal.isEmpty, "the journal exists")
        for (name, value) in secrets {
            for line in recorded { XCTAssertFalse(line.contains(value), "\(name)'s value is in a subprocess's arguments: \(line)") }
            for output in outputs { XCTAssertFalse(output.contains(value), "\(name)'s value is in cdcctl's output") }
            XCTAssertFalse(journal.contains(value), "\(name)'s value is in the journal")
        }
        // The secrets do reach the one file compose reads them from (mode 0600): the test looks where they are.
        let dotEnv = try XCTUnwrap(FileManager.default.subpaths(atPath: dir + "/state")?.first { $0.hasSuffix("/.env") })
        let envText = try String(contentsOfFile: dir + "/state/" + dotEnv, encoding: .utf8)
        XCTAssertTrue(envText.contains(secrets["SEC_CHR"]!) && envText.contains(secrets["SEC_TUNNEL"]!))
        XCTAssertFalse(envText.contains(secrets["SEC_CH"]!), "the ClickHouse admin's password stays out of .env")
        let mode = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: dir + "/state/" + dotEnv)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o600)
    }
}
