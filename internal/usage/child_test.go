package usage

func childMain() int { return 0 }
