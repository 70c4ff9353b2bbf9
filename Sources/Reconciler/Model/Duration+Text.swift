extension Duration {
    /// Whole seconds, for JSON output and comparisons.
    public var wholeSeconds: Int64 { components.seconds }
}
