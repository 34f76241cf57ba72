from tests.interop.stacks import stacks  # noqa: F401 - the signed interop suite's fixture
from tests.trust.conftest import world  # noqa: F401 - what ``stacks`` is built on
from tests.uddi.conftest import post  # noqa: F401 - the raw SOAP fixture
