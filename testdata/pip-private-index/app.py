import idna
import six

print("pip demo", six.__version__, idna.encode("example.com").decode())
