import Diagnostics
import Foundation
import TestSupport
import XCTest
@testable import HTTP

final class HTTPClientTests: XCTestCase {
    final class Sleeps: @unchecked Sendable {
        var seconds: [Double] = []
    }

    /// A port nothing listens on: bind, read the port, close.
    func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, len); _ = getsockname(fd, $0, &len) }
        }
        close(fd)
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    func testIdempotentRequestsRetryWithExponentialBackoff() throws {
        let sleeps = Sleeps()
        let client = HTTPClient(retries: 3, backoffSeconds: 0.1, sleep: { sleeps.seconds.append($0) })
        let url = "http://user:s3cret-pw@127.0.0.1:\(closedPort())/connectors"
        XCTAssertThrowsError(try client.send(HTTPRequest("GET", url, timeoutSeconds: 2))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("after 4 attempts"), text)
            XCTAssertTrue(text.contains("check the server is up and reachable at http://127.0.0.1:"), text)
            XCTAssertFalse(text.contains("s3cret-pw"), "credentials never reach a message: \(text)")
        }
        XCTAssertEqual(sleeps.seconds, [0.1, 0.2, 0.4])
    }

    func testNonIdempotentRequestsAreNotRetried() throws {
        let sleeps = Sleeps()
        let client = HTTPClient(retries: 3, backoffSeconds: 0.1, sleep: { sleeps.seconds.append($0) })
        XCTAssertThrowsError(try client.send(HTTPRequest("POST", "http://127.0.0.1:\(closedPort())/x", body: Array("{}".utf8))))
        XCTAssertEqual(sleeps.seconds, [])
    }

    func testRealServerStatusHeadersAndBody() throws {
        let testbed = try Testbed.require()
        let client = HTTPClient()
        let ready = try client.send(HTTPRequest("GET", testbed["TESTBED_PROMETHEUS_URL"] + "/-/ready"))
        XCTAssertEqual(ready.status, 200)
        XCTAssertTrue(ready.text.contains("Ready"), ready.text)
        XCTAssertNotNil(ready.headers["content-type"])
        let missing = try client.send(HTTPRequest("GET", testbed["TESTBED_PROMETHEUS_URL"] + "/no-such-page"))
        XCTAssertEqual(missing.status, 404, "a 404 is an answer, not an error, and is not retried")
        let api = try client.send(HTTPRequest("GET", testbed["TESTBED_PROMETHEUS_URL"] + "/api/v1/status/buildinfo"))
        let json = try XCTUnwrap(try api.json() as? [String: Any])
        XCTAssertEqual(json["status"] as? String, "success")
    }
}
