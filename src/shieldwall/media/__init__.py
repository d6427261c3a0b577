"""Media kept for review: sealed at rest (envelope AES-256-GCM), de-duplicated by SHA-256,
deleted after a retention period, shown to people only as blurred grayscale previews until a
reviewer chooses to reveal it."""
