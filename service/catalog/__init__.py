"""The procedure catalogue: what the reform moved online, and the signature each procedure needs."""
