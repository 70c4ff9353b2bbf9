// The drivers' public types speak RackswarmCore's vocabulary (secret references, install reports, error intents).
@_exported import RackswarmCore
