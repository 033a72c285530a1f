module kirsa.local/bench/go-floor

go 1.24
