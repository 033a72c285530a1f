module kirsa.local/bench/go-loadgen

go 1.24
