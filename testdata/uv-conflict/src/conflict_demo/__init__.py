def main() -> None:
    import jwt

    print(f"conflict-demo: jwt from {jwt.__file__}")
