import CCurl
import Diagnostics
import Foundation

public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?
    public var timeoutSeconds: Double
    /// Safe to send again after a transport error or a 502/503/504 (GET, PUT, DELETE).
    public var idempotent: Bool
    /// PEM file of CA certificates to trust instead of the system's (https only).
    public var caFile: String?

    public init(_ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                timeoutSeconds: Double = 10, idempotent: Bool? = nil, caFile: String? = nil) {
        self.caFile = caFile
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutSeconds = timeoutSeconds
        self.idempotent = idempotent ?? ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"].contains(method)
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Lower-cased names.
    public var headers: [String: String]
    public var body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// One small blocking HTTP client over libcurl: timeouts, retries with exponential backoff for
/// idempotent requests, and no credentials in error messages.
public final class HTTPClient: Sendable {
    public let retries: Int
    public let backoffSeconds: Double
    let sleep: @Sendable (Double) -> Void

    public init(retries: Int = 3, backoffSeconds: Double = 0.2,
                sleep: @escaping @Sendable (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }) {
        self.retries = retries
        self.backoffSeconds = backoffSeconds
        self.sleep = sleep
        _ = Self.globalInit
    }

    static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public func send(_ request: HTTPRequest) throws -> HTTPResponse {
        var attempt = 0
        while true {
            do {
                let response = try perform(request)
                if request.idempotent, [502, 503, 504].contains(response.status), attempt < retries {
                    attempt += 1
                    sleep(backoffSeconds * pow(2, Double(attempt - 1)))
                    continue
                }
                return response
            } catch let error as TransportError {
                guard request.idempotent, attempt < retries else {
                    throw CdcError.failed("\(request.method) \(Redact.secrets(in: request.url)) failed: \(error.message)"
                                          + (attempt > 0 ? " (after \(attempt + 1) attempts)" : ""),
                                          subject: Self.origin(request.url),
                                          fix: "check the server is up and reachable at \(Self.origin(request.url))", transient: true)
                }
                attempt += 1
                sleep(backoffSeconds * pow(2, Double(attempt - 1)))
            }
        }
    }

    struct TransportError: Error { var message: String }

    private func perform(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let h = curl_easy_init() else { throw TransportError(message: "libcurl could not start a request") }
        defer { curl_easy_cleanup(h) }
        let sink = ResponseSink()
        let sinkRef = Unmanaged.passRetained(sink)
        defer { sinkRef.release() }
        var headers: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headers) }
        for (name, value) in request.headers { headers = curl_slist_append(headers, "\(name): \(value)") }
        // Without this, curl sends "Expect: 100-continue" for larger bodies and waits for it.
        headers = curl_slist_append(headers, "Expect:")

        cdc_curl_setopt_str(h, CURLOPT_URL, request.url)
        cdc_curl_setopt_str(h, CURLOPT_CUSTOMREQUEST, request.method)
        cdc_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        cdc_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(request.timeoutSeconds * 1000))
        cdc_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(min(request.timeoutSeconds, 5) * 1000))
        cdc_curl_setopt_slist(h, CURLOPT_HTTPHEADER, headers)
        if let ca = request.caFile { cdc_curl_setopt_str(h, CURLOPT_CAINFO, ca) }
        cdc_curl_setopt_ptr(h, CURLOPT_WRITEDATA, sinkRef.toOpaque())
        cdc_curl_setopt_write(h, CURLOPT_WRITEFUNCTION) { data, size, count, user in
            guard let data, let user else { return 0 }
            Unmanaged<ResponseSink>.fromOpaque(user).takeUnretainedValue().body
                .append(contentsOf: UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        cdc_curl_setopt_ptr(h, CURLOPT_HEADERDATA, sinkRef.toOpaque())
        cdc_curl_setopt_write(h, CURLOPT_HEADERFUNCTION) { data, size, count, user in
            guard let data, let user else { return 0 }
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self)
            Unmanaged<ResponseSink>.fromOpaque(user).takeUnretainedValue().header(line)
            return size * count
        }
        let code: CURLcode = withBody(request.body) { ptr, len in
            if let ptr {
                cdc_curl_setopt_ptr(h, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: ptr))
                cdc_curl_setopt_long(h, CURLOPT_POSTFIELDSIZE, len)
            }
            return curl_easy_perform(h)
        }
        guard code == CURLE_OK else { throw TransportError(message: String(cString: curl_easy_strerror(code))) }
        var status = 0
        cdc_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body)
    }

    private func withBody<R>(_ body: [UInt8]?, _ fn: (UnsafeRawPointer?, Int) throws -> R) rethrows -> R {
        guard let body else { return try fn(nil, 0) }
        return try body.withUnsafeBytes { try fn($0.baseAddress, $0.count) }
    }

    /// `http://host:port` of a URL, without path or credentials.
    public static func origin(_ url: String) -> String {
        guard let u = URLComponents(string: url), let host = u.host else { return Redact.secrets(in: url) }
        return "\(u.scheme ?? "http")://\(host)\(u.port.map { ":\($0)" } ?? "")"
    }
}

final class ResponseSink {
    var body: [UInt8] = []
    var headers: [String: String] = [:]

    func header(_ line: String) {
        // A new status line (redirect, 100 Continue) starts a new header block.
        if line.hasPrefix("HTTP/") { headers = [:]; return }
        guard let colon = line.firstIndex(of: ":") else { return }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension HTTPResponse {
    /// Parses a JSON body, or explains what came back instead.
    public func json() throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        } catch {
            throw CdcError.failed("expected JSON, got HTTP \(status): \(String(text.prefix(200)))")
        }
    }
}
