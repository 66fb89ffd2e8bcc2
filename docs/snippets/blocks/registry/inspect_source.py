import inspect

from knowledge.blocks import PPM, PSPHead
from knowledge.registry import RegistryError

# getmembers: (name, value) pairs, sorted by name; keep the functions PPM defines itself
own = [
    name
    for name, fn in inspect.getmembers(PPM, inspect.isfunction)
    if fn.__qualname__.startswith("PPM.")
]
print("functions defined in PPM:", own)

# getdoc: the docstring with its indentation cleaned up
print("PSPHead:", inspect.getdoc(PSPHead).splitlines()[0])
print("PPM.forward:", inspect.getdoc(PPM.forward).splitlines()[0])

# getsource: the source text, read from the file the object was defined in
print()
print(inspect.getsource(RegistryError))
