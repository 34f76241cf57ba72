from tests.uddi.conftest import post  # noqa: F401 - the raw SOAP fixture
