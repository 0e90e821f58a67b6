import Foundation

/// One line of the final table: a figure, what it is compared with, and its target.
struct SummaryRow: Sendable {
    var figure: String
    var measured: String
    var comparedWith: String = ""
    var ratio: String = ""
    var target: String = ""
    /// nil: informational, no target.
    var met: Bool? = nil
}

/// Collects the rows of the final table as the benchmarks run.
final class Summary {
    private(set) var rows: [SummaryRow] = []

    func add(_ row: SummaryRow) { rows.append(row) }

    func print(title: String) {
        let header = SummaryRow(figure: "figure", measured: "measured", comparedWith: "compared with",
                                ratio: "ratio", target: "target", met: nil)
        let cells: [[String]] = ([header] + rows).enumerated().map { index, row in
            let verdict = index == 0 ? "result" : row.met.map { $0 ? "met" : "MISSED" } ?? "-"
            return [row.figure, row.measured, row.comparedWith, row.ratio, row.target, verdict]
        }
        let widths = (0..<6).map { column in cells.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            "| " + zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |"
        }
        Swift.print("")
        Swift.print(title)
        Swift.print(line(cells[0]))
        Swift.print("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|")
        for row in cells.dropFirst() { Swift.print(line(row)) }
        fflush(nil)
    }
}

/// Prints and flushes, so progress shows as it happens when the output goes to a file or a pipe.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

func heading(_ text: String) {
    say("")
    say("== \(text) " + String(repeating: "=", count: max(0, 76 - text.count)))
}

extension Int {
    /// 1234567 → "1,234,567".
    var grouped: String {
        let digits = String(magnitude)
        var out = ""
        for (offset, character) in digits.enumerated() {
            if offset > 0 && (digits.count - offset) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (self < 0 ? "-" : "") + out
    }
}

extension Double {
    var rounded0: String { Int(self.rounded()).grouped }
}

func format(_ value: Double, decimals: Int) -> String {
    String(format: "%.\(decimals)f", value)
}

func format(ms value: Double) -> String {
    value.isNaN ? "n/a" : value < 10 ? String(format: "%.2f ms", value) : String(format: "%.1f ms", value)
}

func percent(_ value: Double) -> String { String(format: "%.0f%%", value * 100) }

enum BenchTime {
    static func seconds(_ duration: Duration) -> Double {
        let (whole, attoseconds) = duration.components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
