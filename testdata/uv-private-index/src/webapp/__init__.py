def main() -> None: print("webapp")
