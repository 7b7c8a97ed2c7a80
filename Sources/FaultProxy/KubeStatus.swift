import Foundation

/// The API server's `Status` body (meta/v1), as the proxy answers a refused request, so a
/// client decodes it exactly like a real 429 or 503.
enum KubeStatus {
    static func body(code: Int, message: String, retryAfterSeconds: Int?) -> [UInt8] {
        // Reasons as apimachinery's StatusReasonTooManyRequests / StatusReasonServiceUnavailable.
        let reason = code == 429 ? "TooManyRequests" : code == 503 ? "ServiceUnavailable" : "InternalError"
        var object: [String: Any] = [
            "kind": "Status", "apiVersion": "v1", "metadata": [String: Any](),
            "status": "Failure", "message": message, "reason": reason, "code": code,
        ]
        if let retryAfterSeconds { object["details"] = ["retryAfterSeconds": retryAfterSeconds] }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Array(data) + [0x0A]
    }
}
