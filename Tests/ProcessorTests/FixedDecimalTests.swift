import XCTest
@testable import Processor

final class FixedDecimalTests: XCTestCase {
    func d(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> FixedDecimal {
        guard let v = FixedDecimal(s) else {
            XCTFail("'\(s)' did not parse", file: file, line: line)
            return .zero
        }
        return v
    }

    func testParsesAndPrintsKeepingTheScale() {
        XCTAssertEqual(d("97000000.0").description, "97000000.0")
        XCTAssertEqual(d("0.0123").description, "0.0123")
        XCTAssertEqual(d("-12.3400").description, "-12.3400")
        XCTAssertEqual(d("-0.5").description, "-0.5")
        XCTAssertEqual(d("5").description, "5")
        XCTAssertEqual(d("+5").description, "5")
        XCTAssertEqual(d("0").description, "0")
        XCTAssertEqual(d("000123.40").description, "123.40")
        XCTAssertEqual(d("1e-3").description, "0.001")
        XCTAssertEqual(d("1.5E+2").description, "150")
        XCTAssertEqual(d("2.50e1").description, "25.0")
        XCTAssertEqual(d("0.00000001").scale, 8)
        XCTAssertEqual(d("12345678901234567890123456789012345678").description, "12345678901234567890123456789012345678")
        XCTAssertEqual(d("1234567890123456789.5").description, "1234567890123456789.5", "past 18 digits")
        XCTAssertEqual(d("-000000000000000000000.000000000000000000001").description, "-0.000000000000000000001")
        XCTAssertEqual(d("99999999999999999999999999999999999999").adding(d("-1"))?.description, "99999999999999999999999999999999999998")
    }

    func testRefusesWhatIsNotADecimal() {
        for bad in ["", "-", ".", "5.", "1..2", "1.2.3", "abc", "1e", "1e+", " 1", "1 ", "0x10", "NaN", "inf", "1,5",
                    "123456789012345678901234567890123456789", // 39 digits
                    "1e39", "1e-39"] {
            XCTAssertNil(FixedDecimal(bad), "'\(bad)' should not parse")
        }
    }

    func testArithmeticIsExact() {
        // 0.1 + 0.2 is 0.3, not 0.30000000000000004.
        XCTAssertEqual(d("0.1").adding(d("0.2")), d("0.3"))
        XCTAssertEqual(d("0.1").adding(d("0.2"))?.description, "0.3")
        // Scales align to the larger one.
        XCTAssertEqual(d("1.5").adding(d("0.25"))?.description, "1.75")
        // 97000000.0 × 0.0123 = 1193100.00000 (scale 1 + 4).
        XCTAssertEqual(d("97000000.0").multiplied(by: d("0.0123"))?.description, "1193100.00000")
        XCTAssertEqual(d("-2.5").multiplied(by: d("4"))?.description, "-10.0")
    }

    func testOverflowIsReportedNotTrapped() {
        let big = FixedDecimal(mantissa: Int128.max, scale: 0)
        XCTAssertNil(big.adding(FixedDecimal(1)))
        XCTAssertNil(big.multiplied(by: FixedDecimal(2)))
        XCTAssertNil(d("1").rescaled(to: 39))
        XCTAssertNil(FixedDecimal(mantissa: Int128.max / 10, scale: 0).rescaled(to: 2))
        XCTAssertNil(d("1.25").rescaled(to: 1), "rescaling down would lose a digit")
        XCTAssertEqual(d("1.20").rescaled(to: 1)?.description, "1.2")
        // Scales add up in a product: 20 + 20 is above 38.
        XCTAssertNil(FixedDecimal(mantissa: 1, scale: 20).multiplied(by: FixedDecimal(mantissa: 1, scale: 20)))
    }

    func testEqualityOrderAndHashAreByValue() {
        XCTAssertEqual(d("1.50"), d("1.5"))
        XCTAssertEqual(Set([d("1.50"), d("1.5"), d("1.500")]).count, 1)
        XCTAssertLessThan(d("1.49"), d("1.5"))
        XCTAssertLessThan(d("-2"), d("-1.99"))
        XCTAssertLessThan(d("-0.1"), d("0"))
        XCTAssertGreaterThan(FixedDecimal(mantissa: Int128.max, scale: 0), d("1.5"), "a value too large to rescale is the larger")
        XCTAssertLessThan(FixedDecimal(mantissa: Int128.min + 1, scale: 0), d("-1.5"))
        XCTAssertEqual(d("1.500").normalized.description, "1.5")
        XCTAssertEqual(d("100").normalized.description, "100")
    }

    func testDigitsAndDouble() {
        XCTAssertEqual(d("123.45").integerDigits, 3)
        XCTAssertEqual(d("0.5").integerDigits, 0)
        XCTAssertEqual(d("-99999.1").integerDigits, 5)
        XCTAssertEqual(d("100000").integerDigits, 6)
        XCTAssertEqual(d("99999.99").integerDigits, 5)
        XCTAssertEqual(FixedDecimal(mantissa: Int128.max, scale: 0).integerDigits, 39)
        XCTAssertEqual(FixedDecimal(mantissa: Int128.max, scale: 38).integerDigits, 1)
        XCTAssertEqual(FixedDecimal(mantissa: 5, scale: 38).integerDigits, 0)
        XCTAssertEqual(FixedDecimal(mantissa: Int128.max, scale: 0).doubleValue, 1.7014118346046923e38)
        XCTAssertEqual(FixedDecimal(mantissa: Int128.min, scale: 0).description, "-170141183460469231731687303715884105728")
        XCTAssertEqual(d("1.500").significantScale, 1)
        XCTAssertEqual(d("97000000.0").doubleValue, 97_000_000)
        XCTAssertEqual(d("0.0123").doubleValue, 0.0123, accuracy: 1e-18)
    }

    func testFitsIntegerDigitsAgreesWithIntegerDigits() {
        for text in ["0", "0.5", "9.99", "10", "999999999999999999.99999999999999999999", "1000000000000000000", "-123.45",
                     "99999999999999999999999999999999999999", "0.00000000000000000001"] {
            let d = FixedDecimal(text)!
            for digits in [0, 1, 2, 3, 18, 19, 26, 38] {
                XCTAssertEqual(d.fits(integerDigits: digits), d.integerDigits <= digits, "\(text) in \(digits)")
            }
        }
    }
}
