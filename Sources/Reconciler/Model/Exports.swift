// The model's public types speak RackswarmCore's vocabulary (secret references).
@_exported import RackswarmCore
