import localgreet, six
def main():
    print(localgreet.hello(), "six", six.__version__)
