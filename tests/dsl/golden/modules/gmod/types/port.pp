type Gmod::Port = Integer[1, 65535]
