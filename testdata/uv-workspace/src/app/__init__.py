import core
def main() -> None: print("app", core.NAME)
