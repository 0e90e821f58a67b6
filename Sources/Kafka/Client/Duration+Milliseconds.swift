extension Duration {
    /// Whole milliseconds, rounded up so that a short positive wait is not zero; never
    /// negative (to librdkafka, -1 means "wait forever").
    var milliseconds: Int64 {
        let (seconds, attoseconds) = max(self, .zero).components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}
