import Diagnostics
import Foundation
import Processor
import Producers

/// `cdcctl bench processor --input FILE`: the engine on the user's own trades: trade lines, or the raw
/// Upbit / KIS frames `produce trades --record` writes, streamed from the file in 1 MiB chunks so the file's size does
/// not matter. Two figures: the engine alone (windows, rules, row encoding) and the whole path
/// (reading, splitting, decoding and the engine), and the peak RSS.
public struct ProcessorFileBenchReport: Sendable, Codable {
    public var input: String
    /// What the file held: `trade lines` or `raw frames` (Upbit / KIS, as `--record` writes them).
    public var format: String
    public var partitions: Int
    public var events: Int
    public var malformed: Int
    public var inputMiB: Double
    public var engineSeconds: Double
    public var engineEventsPerSecond: Double
    public var wholeSeconds: Double
    public var wholeEventsPerSecond: Double
    public var rows: Int
    /// The rows as encoded for the sink (JSONEachRow), the engine's output volume.
    public var encodedMiB: Double
    public var alerts: Int
    public var peakRssMiB: Double
}

extension ProcessorBench {
    /// Symbols are spread over `partitions` by an FNV-1a hash (each partition keeps its own
    /// watermark, as `trades.raw`'s would); `events` caps the lines read.
    public static func runFile(path: String, partitions: Int, events: Int?, config: ProcessorConfig = .defaults) throws -> ProcessorFileBenchReport {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CdcError.invalid("cannot read '\(path)'", subject: "--input", fix: "name a file of trade lines, e.g. one `produce trades --record` wrote")
        }
        defer { try? handle.close() }
        let engine = ProcessorEngine(config: config)
        var batch = OutputBatch()
        var offsets = [Int64](repeating: 0, count: partitions)
        var count = 0, malformed = 0, rows = 0, alerts = 0, bytes = 0
        var engineTime = Duration.zero
        let clock = ContinuousClock()
        let started = clock.now
        var carry: [UInt8] = []
        var frames = RecordedLineDecoder()
        func flush() {
            let t = clock.now
            rows += batch.count
            alerts += batch.alerts.count
            for table in batch.encoded() { bytes &+= table.body.count }
            batch.removeAll()
            engineTime += clock.now - t
        }
        func apply(_ trade: TradeEvent) {
            var h: UInt32 = 2_166_136_261
            for b in trade.symbol.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
            let p = Int(h % UInt32(partitions))
            let t = clock.now
            engine.apply(trade: trade, at: RecordPosition(topic: config.tradesTopic, partition: Int32(p), offset: offsets[p]), into: &batch)
            engineTime += clock.now - t
            offsets[p] += 1
            count += 1
            if batch.count >= 5000 { flush() }
        }
        let position = RecordPosition(topic: config.tradesTopic, partition: 0, offset: 0)
        func decodeTrade(_ bytes: UnsafeRawBufferPointer) -> TradeEvent? {
            try? TradeCodec.decode(bytes, at: position)
        }
        // A recording of raw frames goes through the live decoders (as `produce trades` would
        // turn them into the trade lines the processor reads); trade lines go straight to the
        // processor's codec. Which the file holds is learnt from its lines, not its name.
        func line(_ l: ArraySlice<UInt8>) {
            guard !l.isEmpty, events.map({ count < $0 }) ?? true else { return }
            if frames.frames == 0, let trade = l.withUnsafeBytes(decodeTrade) { apply(trade); return }
            let text = String(decoding: l, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            do {
                switch try frames.decode(text) {
                case .skip: return
                case .tradeLine:
                    guard let trade = Array(text.utf8).withUnsafeBytes(decodeTrade) else { malformed += 1; return }
                    apply(trade)
                case let .trades(trades):
                    for t in trades where events.map({ count < $0 }) ?? true {
                        guard let trade = Array(t.json.utf8).withUnsafeBytes(decodeTrade) else { malformed += 1; continue }
                        apply(trade)
                    }
                }
            } catch { malformed += 1 }
        }
        var inputBytes = 0
        while events.map({ count < $0 }) ?? true {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            inputBytes += chunk.count
            carry += chunk
            var start = carry.startIndex
            while let nl = carry[start...].firstIndex(of: UInt8(ascii: "\n")) {
                line(carry[start..<nl])
                start = nl + 1
            }
            carry.removeSubrange(..<start)
        }
        line(carry[...])
        _ = engine.emitOpenWindows(into: &batch)
        flush()
        let whole = (clock.now - started)
        func secs(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        return ProcessorFileBenchReport(input: path, format: frames.frames > 0 ? "raw frames (\(frames.frames) lines)" : "trade lines", partitions: partitions, events: count, malformed: malformed,
                                        inputMiB: Double(inputBytes) / 1_048_576, engineSeconds: secs(engineTime),
                                        engineEventsPerSecond: Double(count) / max(secs(engineTime), 1e-9), wholeSeconds: secs(whole),
                                        wholeEventsPerSecond: Double(count) / max(secs(whole), 1e-9), rows: rows, encodedMiB: Double(bytes) / 1_048_576, alerts: alerts,
                                        peakRssMiB: peakRssMiB())
    }
}
