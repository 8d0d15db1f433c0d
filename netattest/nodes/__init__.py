"""Node pre-flight: prove that the nodes are fit to carry the secondary networks before any pod is created.

* ``backend``  -- a testinfra backend (``netns://<namespace>``) that runs commands inside a lab node's namespace;
* ``k8sexec``  -- a testinfra backend (``k8sexec://<pod>``) that runs commands in a pod over the API server's exec;
* ``access``   -- how commands reach a node: the lab's namespace, SSH (any testinfra host spec the user
  configures), or a privileged host-network debug pod on a cluster node (``netattest.k8s.nodepods``);
* ``duties``   -- what the topology asks of each node (master NICs, VLANs, MTUs, CNI binaries, IPAM daemons);
* ``facts``    -- what a node really has, read through testinfra's modules;
* ``checks``   -- pure judgements of facts against duties, each naming the node, the NIC and the fix;
* ``fleet``    -- the nodes of a run as subjects: access, duties, facts; read in parallel;
* ``report``   -- the node-facts record (``nodes.json``) and the pre-flight lines of the run summary.
"""
