import XCTest
@testable import Processor

/// The hand-written scanner against the JSON grammar: escapes, unicode, nulls, numbers as
/// strings, unknown fields, field order, truncation and random garbage.
final class JSONScannerTests: XCTestCase {
    /// Runs `body` over the bytes of `text`, requiring that only white space follows.
    func read<T>(_ text: String, _ body: (inout JSONScanner) throws(JSONError) -> T) -> Result<T, JSONError> {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { buf in
            Result { () throws(JSONError) -> T in
                var s = JSONScanner(buf)
                let v = try body(&s)
                try s.end()
                return v
            }
        }
    }

    func string(_ text: String) -> Result<String, JSONError> { read(text) { (s: inout JSONScanner) throws(JSONError) in try s.string() } }

    func testStringEscapesAndUnicode() {
        XCTAssertEqual(try string(#""plain""#).get(), "plain")
        XCTAssertEqual(try string(#""a\"b\\c\/d""#).get(), "a\"b\\c/d")
        XCTAssertEqual(try string(#""\b\f\n\r\t""#).get(), "\u{8}\u{c}\n\r\t")
        XCTAssertEqual(try string(#""\u00e9\u0041""#).get(), "éA")
        XCTAssertEqual(try string(#""\u0000""#).get(), "\u{0}")
        XCTAssertEqual(try string(#""\ud83d\ude00 smile""#).get(), "😀 smile", "surrogate pair")
        XCTAssertEqual(try string("\"삼성전자 😀\"").get(), "삼성전자 😀", "raw UTF-8 passes through")
        XCTAssertEqual(try string("  \"x\"  ").get(), "x")
    }

    func testBadStringsAreErrors() {
        let cases: [(String, String)] = [
            (#""abc"#, "unterminated string"),
            (#""\x""#, "invalid escape"),
            (#""\u12""#, "four hex digits"),
            (#""\u12G4""#, "four hex digits"),
            (#""\ud83d""#, "lone UTF-16 surrogate"),
            (#""\ud83d\u0041""#, "lone UTF-16 surrogate"),
            (#""\ude00""#, "lone UTF-16 surrogate"),
            ("\"a\u{1}b\"", "unescaped control character"),
            ("\"tab\there\"", "unescaped control character"),
            ("\"\\", "unterminated string"),
            ("abc", "expected a string"),
            ("", "expected a string, found end of input"),
        ]
        for (text, expected) in cases {
            switch string(text) {
            case .success(let v): XCTFail("\(text) gave \(v)")
            case .failure(let e): XCTAssertTrue(e.message.contains(expected), "\(text): \(e)")
            }
        }
        // Invalid UTF-8 bytes are refused, not replaced.
        let invalid: [UInt8] = [0x22, 0x61, 0xff, 0x22]
        let r = invalid.withUnsafeBytes { buf in
            Result { () throws(JSONError) -> String in var s = JSONScanner(buf); return try s.string() }
        }
        XCTAssertThrowsError(try r.get()) { XCTAssertTrue("\($0)".contains("invalid UTF-8"), "\($0)") }
    }

    func testWholeNumbers() {
        func int(_ t: String) -> Result<Int64, JSONError> { read(t) { (s: inout JSONScanner) throws(JSONError) in try s.int64() } }
        XCTAssertEqual(try int("0").get(), 0)
        XCTAssertEqual(try int("-42").get(), -42)
        XCTAssertEqual(try int("9223372036854775807").get(), Int64.max)
        XCTAssertEqual(try int("-9223372036854775808").get(), Int64.min)
        XCTAssertEqual(try int(#""1700000000123""#).get(), 1_700_000_000_123, "a number sent as a string")
        for bad in ["9223372036854775808", "1.5", "1e3", "01", "-", "\"\"", "\"12a\"", "null", "true", "\"-\""] {
            XCTAssertThrowsError(try int(bad).get(), bad)
        }
    }

    func testDecimalsFromStringsAndNumbers() {
        func dec(_ t: String) -> Result<FixedDecimal, JSONError> { read(t) { (s: inout JSONScanner) throws(JSONError) in try s.decimal() } }
        XCTAssertEqual(try dec(#""97000000.0""#).get().description, "97000000.0")
        XCTAssertEqual(try dec("0.0123").get().description, "0.0123", "a JSON number is read exactly too")
        XCTAssertEqual(try dec("-1.5e-2").get().description, "-0.015")
        for bad in [#""""#, #""1,5""#, "null", #""abc""#, "01.5", "1.", #""\u0031""#] {
            XCTAssertThrowsError(try dec(bad).get(), bad)
        }
    }

    func testObjectsAnyFieldOrderUnknownFieldsSkipped() throws {
        struct P: Equatable { var a: Int64?; var b: String? }
        func obj(_ t: String) -> Result<P, JSONError> {
            read(t) { (s: inout JSONScanner) throws(JSONError) -> P in
                var p = P()
                try s.beginObject()
                var first = true
                while let k = try s.nextKey(&first) {
                    if s.key(k, is: "a") { p.a = try s.int64() } else if s.key(k, is: "b") { p.b = try s.string() } else { try s.skipValue() }
                }
                return p
            }
        }
        XCTAssertEqual(try obj(#"{"a":1,"b":"x"}"#).get(), P(a: 1, b: "x"))
        XCTAssertEqual(try obj(#"{"b":"x","a":1}"#).get(), P(a: 1, b: "x"))
        XCTAssertEqual(try obj(" { \"a\" : 1 ,\n\t\"b\" : \"x\" } ").get(), P(a: 1, b: "x"))
        XCTAssertEqual(try obj(#"{}"#).get(), P())
        XCTAssertEqual(try obj(#"{"z":{"deep":[1,2.5e3,-0.1,{"q":null}],"t":true,"f":false},"a":7,"s":"\u00e9\"}"}"#).get(), P(a: 7))
        XCTAssertEqual(try obj(#"{"\u0061":5}"#).get(), P(a: 5), "an escaped key matches its decoded name")
        XCTAssertEqual(try obj(#"{"a":1,"a":2}"#).get(), P(a: 2), "the last of duplicate keys wins")
        for bad in [#"{"a":1,}"#, #"{,"a":1}"#, #"{"a" 1}"#, #"{"a":1"#, #"{"a":1}}"#, #"{"a":1} x"#, #"{a:1}"#,
                    #"{"z":[1,]}"#, #"{"z":[1 2]}"#, #"{"z":tru}"#, #"{"z":-}"#, #"{"z":1.}"#, #"{"z":.5}"#, #"{"z":+1}"#, "[1]", ""] {
            XCTAssertThrowsError(try obj(bad).get(), bad)
        }
    }

    func testNestingIsBounded() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let r = read(#"{"x":"# + deep + "}") { (s: inout JSONScanner) throws(JSONError) in
            try s.beginObject()
            var first = true
            while try s.nextKey(&first) != nil { try s.skipValue() }
        }
        XCTAssertThrowsError(try r.get()) { XCTAssertTrue("\($0)".contains("nested deeper than 64"), "\($0)") }
        let fine = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        XCTAssertNoThrow(try read(fine) { (s: inout JSONScanner) throws(JSONError) in try s.skipValue() }.get())
    }

    func testErrorsNameTheFieldAndByte() {
        let r = read(#"{"a":1,"price":"x1"}"#) { (s: inout JSONScanner) throws(JSONError) in
            try s.beginObject()
            var first = true
            while let k = try s.nextKey(&first) { if s.key(k, is: "price") { _ = try s.decimal() } else { try s.skipValue() } }
        }
        guard case .failure(let e) = r else { return XCTFail("expected an error") }
        XCTAssertEqual(e.field, "price")
        XCTAssertEqual(e.byteOffset, 15)
        XCTAssertTrue(e.message.contains("expected a decimal number"), e.message)
        XCTAssertEqual(e.inside("after").field, "after.price")
    }

    /// Random mutations of a valid event never crash the scanner: each gives a value or an error.
    func testFuzzedInputNeverCrashes() {
        let seed = Array(#"{"before":null,"after":{"order_id":1,"price":"1.5","s":"\u00e9\n"},"op":"c","n":[1,-2.5e3,true,false,null]}"#.utf8)
        var rng = SplitMix64(seed: 7)
        let alphabet = Array(#"{}[]":,\0123456789.-+eEnulltruefalse "#.utf8) + [0x00, 0x1f, 0x7f, 0xc3, 0xa9, 0xff, 0xed, 0xa0, 0x80]
        var ok = 0, failed = 0
        for _ in 0..<20_000 {
            var bytes = seed
            for _ in 0..<Int(rng.next() % 4 + 1) {
                let i = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[i] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: i)
                default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: i)
                }
                if bytes.isEmpty { bytes = [0x7b] }
            }
            if Int(rng.next() % 10) == 0 { bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count)))) }
            let r = bytes.withUnsafeBytes { buf in
                Result { () throws(JSONError) in var s = JSONScanner(buf); try s.skipValue(); try s.end() }
            }
            if case .success = r { ok += 1 } else { failed += 1 }
        }
        XCTAssertEqual(ok + failed, 20_000)
        XCTAssertGreaterThan(failed, 0)
    }
}
