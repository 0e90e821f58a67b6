/// How a serial port must be set up to talk to a device: line settings as the device's manual
/// gives them, applied with termios when the port is opened.
public struct SerialSettings: Sendable, Hashable {
    public enum Parity: String, Sendable, Hashable, CaseIterable { case none, even, odd }
    public enum FlowControl: String, Sendable, Hashable, CaseIterable {
        case none
        /// Hardware handshake on the RTS/CTS lines.
        case rtsCts = "rts_cts"
        /// Software handshake with XON/XOFF characters.
        case xonXoff = "xon_xoff"
    }

    /// The speeds termios can set on Linux that serial medical devices use.
    public static let supportedBaudRates: [Int] = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400]

    public var baud: Int
    /// 5 to 8.
    public var dataBits: Int
    public var parity: Parity
    /// 1 or 2.
    public var stopBits: Int
    public var flowControl: FlowControl
    /// termios VMIN: bytes a read waits for (0–255).
    public var vmin: Int
    /// termios VTIME: inter-byte timeout in tenths of a second (0–255).
    public var vtime: Int

    public init(baud: Int = 9600, dataBits: Int = 8, parity: Parity = .none, stopBits: Int = 1,
                flowControl: FlowControl = .none, vmin: Int = 1, vtime: Int = 0) {
        self.baud = baud
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
        self.flowControl = flowControl
        self.vmin = vmin
        self.vtime = vtime
    }
}

/// A text line protocol described by a profile: `SPO2=97,HR=72` (key/value) or `97,72`
/// (positional), one reading per line.
public struct LineProtocolSpec: Sendable, Hashable {
    public enum Style: String, Sendable, Hashable, CaseIterable {
        case keyValue = "key_value"
        case positional
    }

    /// One field of the line: its vital kind and the unit the device sends it in.
    public struct Field: Sendable, Hashable {
        /// The key (key/value style) or a name for messages (positional style).
        public var name: String
        /// Position in the line, from 0 (positional style only).
        public var index: Int?
        public var kind: VitalKind
        public var unit: UCUMUnit

        public init(name: String, index: Int? = nil, kind: VitalKind, unit: UCUMUnit) {
            self.name = name
            self.index = index
            self.kind = kind
            self.unit = unit
        }
    }

    public var separator: String
    public var style: Style
    public var keyValueSeparator: String
    /// The text a device sends for a reading it does not have (`---`).
    public var noValue: String
    public var fields: [Field]
    /// Longest accepted line in bytes; longer input is discarded up to the next line end.
    public var maxLineBytes: Int

    public init(separator: String = ",", style: Style = .keyValue, keyValueSeparator: String = "=",
                noValue: String = "---", fields: [Field], maxLineBytes: Int = 512) {
        self.separator = separator
        self.style = style
        self.keyValueSeparator = keyValueSeparator
        self.noValue = noValue
        self.fields = fields
        self.maxLineBytes = maxLineBytes
    }
}

extension ProtocolFamily {
    /// Spoken over an RS-232 line (and so configured with `serial:` settings).
    public var isSerial: Bool {
        switch self {
        case .masimoASCII, .noninBinary, .lineProtocol: true
        default: false
        }
    }
}
