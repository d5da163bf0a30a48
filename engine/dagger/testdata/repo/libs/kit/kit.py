NAME = "kit"
