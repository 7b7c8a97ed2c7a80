extension Duration {
    /// The duration in seconds, as a `Double` (what timeouts, rates and reports compute with).
    public var inSeconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }
}
