public enum ReconcilerVersion { public static let string = "0.1.0" }
