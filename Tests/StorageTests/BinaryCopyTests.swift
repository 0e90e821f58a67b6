import Storage
import TestSupport
import Testing
import VitalSigns

@Suite("Binary COPY")
struct BinaryCopyTests {
    @Test("the stream has the PGCOPY header, big-endian fields and the -1 trailer")
    func layout() {
        var writer = BinaryCopyWriter()
        writer.beginRow(fieldCount: 3)
        writer.append(Int16(0x0102))
        writer.appendNull()
        writer.append("é")
        let bytes = writer.finish()
        let header: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(Array(bytes.prefix(19)) == header)
        let row: [UInt8] = [0, 3, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 2, 0xC3, 0xA9]
        #expect(Array(bytes.dropFirst(19).prefix(row.count)) == row)
        #expect(Array(bytes.suffix(2)) == [0xFF, 0xFF])
        #expect(bytes.count == 19 + row.count + 2)
    }

    @Test("timestamps are written as microseconds since 2000-01-01")
    func timestampEpoch() {
        var writer = BinaryCopyWriter()
        writer.beginRow(fieldCount: 1)
        writer.append(timestamp: Timestamp(microsecondsSinceEpoch: 946_684_800_000_000 + 1))
        let bytes = writer.finish()
        #expect(Array(bytes.dropFirst(21).prefix(12)) == [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1])
    }

    @Test("every column type round-trips, read back on a separate connection")
    func roundTrip() throws {
        let url = try TestPostgres.database()
        let writerConnection = try PostgresConnection(url: url)
        defer { writerConnection.close() }
        try writerConnection.execute("""
            CREATE TABLE all_types (
                n integer, i2 smallint, i4 integer, i8 bigint, f8 double precision, f4 real,
                b boolean, t text, c "char", ts timestamptz, raw bytea
            )
            """)
        struct Row {
            var i2: Int16?, i4: Int32?, i8: Int64?, f8: Double?, f4: Float?, b: Bool?, t: String?, c: UInt8?, ts: Timestamp?, raw: [UInt8]?
        }
        let rows: [Row] = [
            Row(i2: -32768, i4: Int32.min, i8: Int64.min + 1, f8: -0.1, f4: 1.5, b: true, t: "", c: UInt8(ascii: "F"),
                ts: Timestamp(microsecondsSinceEpoch: 0), raw: []),
            Row(i2: 32767, i4: Int32.max, i8: Int64.max, f8: 98.6, f4: -3.25, b: false, t: "ICU^1^A ünïcødé \\ \"q\" \t tab",
                c: UInt8(ascii: "X"), ts: Timestamp(microsecondsSinceEpoch: baseTime + 123_456), raw: [0, 1, 0xFF]),
            Row(i2: nil, i4: nil, i8: nil, f8: nil, f4: nil, b: nil, t: nil, c: nil, ts: nil, raw: nil),
            Row(i2: 0, i4: 0, i8: 0, f8: 1e-300, f4: 0, b: true, t: String(repeating: "x", count: 10_000), c: UInt8(ascii: "P"),
                ts: Timestamp(microsecondsSinceEpoch: -62_135_596_800_000_000), raw: Array(repeating: 7, count: 3)),  // year 1
        ]
        var writer = BinaryCopyWriter(reservingCapacity: 16_384)
        for (index, row) in rows.enumerated() {
            writer.beginRow(fieldCount: 11)
            writer.append(Int32(index))
            writer.append(row.i2)
            writer.append(row.i4)
            writer.append(row.i8)
            writer.append(row.f8)
            if let f4 = row.f4 { writer.append(f4) } else { writer.appendNull() }
            writer.append(row.b)
            writer.append(row.t)
            if let c = row.c { writer.append(char: c) } else { writer.appendNull() }
            writer.append(timestamp: row.ts)
            if let raw = row.raw { writer.append(bytes: raw) } else { writer.appendNull() }
        }
        #expect(writer.rowCount == rows.count)
        let copied = try writerConnection.copyIn(
            "COPY all_types (n, i2, i4, i8, f8, f4, b, t, c, ts, raw) FROM STDIN (FORMAT binary)", data: writer.finish(), chunkSize: 1000)
        #expect(copied == rows.count)

        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        let result = try reader.execute("""
            SELECT i2, i4, i8, f8, f4, b, t, c::text, (EXTRACT(EPOCH FROM ts) * 1000000)::bigint AS ts, encode(raw, 'hex') AS raw
            FROM all_types ORDER BY n
            """)
        #expect(result.rows.count == rows.count)
        for (expected, actual) in zip(rows, result.rows) {
            #expect(actual[0] == expected.i2.map { String($0) })
            #expect(actual[1] == expected.i4.map { String($0) })
            #expect(actual[2] == expected.i8.map { String($0) })
            #expect(actual[3].flatMap(Double.init) == expected.f8)
            #expect(actual[4].flatMap(Float.init) == expected.f4)
            #expect(actual[5] == expected.b.map { $0 ? "t" : "f" })
            #expect(actual[6] == expected.t)
            #expect(actual[7] == expected.c.map { String(UnicodeScalar($0)) })
            #expect(actual[8] == expected.ts.map { String($0.microsecondsSinceEpoch) })
            #expect(actual[9] == expected.raw.map { $0.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined() })
        }
    }

    @Test("a COPY the server refuses fails with its SQLSTATE and leaves the connection usable")
    func refusedCopy() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        try connection.execute("CREATE TABLE narrow (v integer NOT NULL)")
        var writer = BinaryCopyWriter()
        writer.beginRow(fieldCount: 1)
        writer.appendNull()
        let error = #expect(throws: PostgresError.self) {
            try connection.copyIn("COPY narrow (v) FROM STDIN (FORMAT binary)", data: writer.finish())
        }
        #expect(error?.sqlState == "23502")  // not_null_violation
        #expect(error?.context.contains("COPY narrow") == true)

        // Wrong binary width for the column type: the server says so.
        var wrong = BinaryCopyWriter()
        wrong.beginRow(fieldCount: 1)
        wrong.append(Int64(1))
        let widthError = #expect(throws: PostgresError.self) {
            try connection.copyIn("COPY narrow (v) FROM STDIN (FORMAT binary)", data: wrong.finish())
        }
        #expect(widthError?.sqlState == "22P03")  // invalid_binary_representation

        #expect(try connection.execute("SELECT count(*) FROM narrow").scalar == "0")
        var good = BinaryCopyWriter()
        good.beginRow(fieldCount: 1)
        good.append(Int32(42))
        #expect(try connection.copyIn("COPY narrow (v) FROM STDIN (FORMAT binary)", data: good.finish()) == 1)
    }

    @Test("copyIn refuses statements that are not COPY FROM STDIN; text COPY works too")
    func notACopy() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        try connection.execute("CREATE TABLE words (w text)")
        #expect(throws: PostgresError.self) { try connection.copyIn("SELECT 1", data: []) }
        #expect(throws: PostgresError.self) { try connection.execute("COPY words FROM STDIN") }
        let copied = try connection.copyIn("COPY words FROM STDIN", data: Array("alpha\nbeta\n".utf8))
        #expect(copied == 2)
        #expect(try connection.execute("SELECT string_agg(w, ',' ORDER BY w) FROM words").scalar == "alpha,beta")
    }

    @Test("copyIn(script:) gives each COPY of the script its own stream, in order; a failing statement ends the script")
    func script() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        try connection.execute("CREATE TABLE words (w text); CREATE TABLE numbers (n integer PRIMARY KEY)")
        func numbers(_ values: Int32...) -> [UInt8] {
            var writer = BinaryCopyWriter()
            for value in values {
                writer.beginRow(fieldCount: 1)
                writer.append(value)
            }
            return writer.finish()
        }
        let script = "BEGIN; COPY words FROM STDIN; COPY numbers FROM STDIN (FORMAT binary); COMMIT"
        let copied = try connection.copyIn(script: script, streams: [Array("alpha\nbeta\n".utf8), numbers(7, 8, 9)])
        #expect(copied == [2, 3])
        #expect(!connection.isInTransaction)

        // The second COPY breaks the primary key after the first has run: the transaction is
        // left failed, and nothing of it stays once rolled back.
        let violation = #expect(throws: PostgresError.self) {
            try connection.copyIn(script: script, streams: [Array("gamma\n".utf8), numbers(10, 7)])
        }
        #expect(violation?.sqlState == "23505")
        #expect(connection.isInTransaction)
        try connection.execute("ROLLBACK")
        #expect(try connection.execute("SELECT string_agg(w, ',' ORDER BY w) FROM words").scalar == "alpha,beta")
        #expect(try connection.execute("SELECT count(*) FROM numbers").scalar == "3")

        // A COPY left without a stream fails, and with it the script's implicit transaction.
        let missing = #expect(throws: PostgresError.self) {
            try connection.copyIn(script: "COPY words FROM STDIN; COPY words FROM STDIN", streams: [Array("delta\n".utf8)])
        }
        #expect(missing?.message.contains("more COPY") == true)
        #expect(try connection.execute("SELECT count(*) FROM words").scalar == "2")
        #expect(!connection.isInTransaction)
    }
}
