! bminunatak: nunatak for Fortran hosts, as a BMI 2.0 model (docs/coupling.md).
!
!   use bmif_2_0
!   use bminunatak
!   type(bmi_nunatak) :: ice
!   status = ice%initialize_mpi("greenland.yaml", comm)   ! or initialize(...): MPI_COMM_WORLD
!   status = ice%set_value("land_ice_surface__mass_balance_rate", smb)
!   status = ice%update_until(10d0)
!   status = ice%get_value("land_ice__thickness", thk)
!   status = ice%finalize()
!
! Over the C API (nunatak.h) with iso_c_binding. Values are the calling
! rank's own cells, flattened row-major [y][x] (x fastest), doubles; the
! indices of get/set_value_at_indices count from 1 into that part. The grid
! (id 0) is the rank's part of a uniform rectilinear grid, shape [ny, nx];
! get_grid_partition says where it lies in the whole grid. Time is in
! years. After a BMI_FAILURE, last_error() says why.
module bminunatak
  use, intrinsic :: iso_c_binding
  use bmif_2_0
  implicit none
  private

  !> nunatak as a BMI model; extensions: initialize_mpi, get_grid_partition, last_error.
  type, extends(bmi), public :: bmi_nunatak
     private
     type(c_ptr) :: handle = c_null_ptr
   contains
     procedure :: get_component_name => nk_component_name
     procedure :: get_input_item_count => nk_input_item_count
     procedure :: get_output_item_count => nk_output_item_count
     procedure :: get_input_var_names => nk_input_var_names
     procedure :: get_output_var_names => nk_output_var_names
     procedure :: initialize => nk_initialize
     procedure :: update => nk_update
     procedure :: update_until => nk_update_until
     procedure :: finalize => nk_finalize
     procedure :: get_start_time => nk_start_time
     procedure :: get_end_time => nk_end_time
     procedure :: get_current_time => nk_current_time
     procedure :: get_time_step => nk_time_step
     procedure :: get_time_units => nk_time_units
     procedure :: get_var_type => nk_var_type
     procedure :: get_var_units => nk_var_units
     procedure :: get_var_itemsize => nk_var_itemsize
     procedure :: get_var_nbytes => nk_var_nbytes
     procedure :: get_var_grid => nk_var_grid
     procedure :: get_var_location => nk_var_location
     procedure :: get_grid_type => nk_grid_type
     procedure :: get_grid_rank => nk_grid_rank
     procedure :: get_grid_shape => nk_grid_shape
     procedure :: get_grid_size => nk_grid_size
     procedure :: get_grid_spacing => nk_grid_spacing
     procedure :: get_grid_origin => nk_grid_origin
     procedure :: get_grid_x => nk_grid_x
     procedure :: get_grid_y => nk_grid_y
     procedure :: get_grid_z => nk_grid_z
     procedure :: get_grid_node_count => nk_grid_count
     procedure :: get_grid_edge_count => nk_grid_count
     procedure :: get_grid_face_count => nk_grid_count
     procedure :: get_grid_edge_nodes => nk_grid_edge_nodes
     procedure :: get_grid_face_edges => nk_grid_face_edges
     procedure :: get_grid_face_nodes => nk_grid_face_nodes
     procedure :: get_grid_nodes_per_face => nk_grid_nodes_per_face
     procedure :: get_value_int => nk_get_int
     procedure :: get_value_float => nk_get_float
     procedure :: get_value_double => nk_get_double
     procedure :: get_value_ptr_int => nk_get_ptr_int
     procedure :: get_value_ptr_float => nk_get_ptr_float
     procedure :: get_value_ptr_double => nk_get_ptr_double
     procedure :: get_value_at_indices_int => nk_get_at_int
     procedure :: get_value_at_indices_float => nk_get_at_float
     procedure :: get_value_at_indices_double => nk_get_at_double
     procedure :: set_value_int => nk_set_int
     procedure :: set_value_float => nk_set_float
     procedure :: set_value_double => nk_set_double
     procedure :: set_value_at_indices_int => nk_set_at_int
     procedure :: set_value_at_indices_float => nk_set_at_float
     procedure :: set_value_at_indices_double => nk_set_at_double
     ! nunatak's extensions for parallel hosts
     procedure :: initialize_mpi => nk_initialize_mpi
     procedure :: get_grid_partition => nk_grid_partition
     procedure :: last_error => nk_last_error
  end type bmi_nunatak

  character(len=BMI_MAX_COMPONENT_NAME), target, save :: component_name = "nunatak"
  character(len=BMI_MAX_VAR_NAME), target, allocatable, save :: input_names(:), output_names(:)

  ! The C API (nunatak.h).
  interface
     integer(c_int) function c_create(model) bind(C, name="nunatak_create")
       import :: c_ptr, c_int
       type(c_ptr), intent(out) :: model
     end function c_create
     subroutine c_destroy(model) bind(C, name="nunatak_destroy")
       import :: c_ptr
       type(c_ptr), value :: model
     end subroutine c_destroy
     type(c_ptr) function c_last_error(model) bind(C, name="nunatak_last_error")
       import :: c_ptr
       type(c_ptr), value :: model
     end function c_last_error
     integer(c_int) function c_set_communicator_f(model, comm) &
          bind(C, name="nunatak_set_communicator_f")
       import :: c_ptr, c_int
       type(c_ptr), value :: model
       integer(c_int), value :: comm
     end function c_set_communicator_f
     integer(c_int) function c_initialize(model, file) bind(C, name="nunatak_initialize")
       import :: c_ptr, c_int, c_char
       type(c_ptr), value :: model
       character(kind=c_char), dimension(*) :: file
     end function c_initialize
     integer(c_int) function c_update(model) bind(C, name="nunatak_update")
       import :: c_ptr, c_int
       type(c_ptr), value :: model
     end function c_update
     integer(c_int) function c_update_until(model, time) bind(C, name="nunatak_update_until")
       import :: c_ptr, c_int, c_double
       type(c_ptr), value :: model
       real(c_double), value :: time
     end function c_update_until
     integer(c_int) function c_finalize(model) bind(C, name="nunatak_finalize")
       import :: c_ptr, c_int
       type(c_ptr), value :: model
     end function c_finalize
     integer(c_int) function c_time(model, time) bind(C)
       import :: c_ptr, c_int, c_double
       type(c_ptr), value :: model
       real(c_double), intent(out) :: time
     end function c_time
     integer(c_int) function c_count(model, count) bind(C)
       import :: c_ptr, c_int
       type(c_ptr), value :: model
       integer(c_int), intent(out) :: count
     end function c_count
     integer(c_int) function c_nth_name(model, index, name) bind(C)
       import :: c_ptr, c_int
       type(c_ptr), value :: model
       integer(c_int), value :: index
       type(c_ptr), intent(out) :: name
     end function c_nth_name
     integer(c_int) function c_get_var_units(model, name, units) &
          bind(C, name="nunatak_get_var_units")
       import :: c_ptr, c_int, c_char
       type(c_ptr), value :: model
       character(kind=c_char), dimension(*) :: name
       type(c_ptr), intent(out) :: units
     end function c_get_var_units
     integer(c_int) function c_get_grid_partition(model, xs, ys, nx, ny, gnx, gny) &
          bind(C, name="nunatak_get_grid_partition")
       import :: c_ptr, c_int
       type(c_ptr), value :: model
       integer(c_int), intent(out) :: xs, ys, nx, ny, gnx, gny
     end function c_get_grid_partition
     integer(c_int) function c_pair(model, a, b) bind(C)
       import :: c_ptr, c_int, c_double
       type(c_ptr), value :: model
       real(c_double), intent(out) :: a, b
     end function c_pair
     integer(c_int) function c_get_value(model, name, dest) bind(C, name="nunatak_get_value")
       import :: c_ptr, c_int, c_char, c_double
       type(c_ptr), value :: model
       character(kind=c_char), dimension(*) :: name
       real(c_double), dimension(*) :: dest
     end function c_get_value
     integer(c_int) function c_get_value_at_indices(model, name, dest, inds, count) &
          bind(C, name="nunatak_get_value_at_indices")
       import :: c_ptr, c_int, c_char, c_double
       type(c_ptr), value :: model
       character(kind=c_char), dimension(*) :: name
       real(c_double), dimension(*) :: dest
       integer(c_int), dimension(*) :: inds
       integer(c_int), value :: count
     end function c_get_value_at_indices
     integer(c_int) function c_set_value(model, name, src) bind(C, name="nunatak_set_value")
       import :: c_ptr, c_int, c_char, c_double
       type(c_ptr), value :: model
       character(kind=c_char), dimension(*) :: name
       real(c_double), dimension(*) :: src
     end function c_set_value
     integer(c_int) function c_set_value_at_indices(model, name, inds, count, src) &
          bind(C, name="nunatak_set_value_at_indices")
       import :: c_ptr, c_int, c_char, c_double
       type(c_ptr), value :: model
       character(kind=c_char), dimension(*) :: name
       integer(c_int), dimension(*) :: inds
       integer(c_int), value :: count
       real(c_double), dimension(*) :: src
     end function c_set_value_at_indices
     integer(c_size_t) function c_strlen(s) bind(C, name="strlen")
       import :: c_ptr, c_size_t
       type(c_ptr), value :: s
     end function c_strlen
  end interface

  ! The C functions of one signature, by name.
  procedure(c_time), bind(C, name="nunatak_get_current_time") :: c_get_current_time
  procedure(c_time), bind(C, name="nunatak_get_start_time") :: c_get_start_time
  procedure(c_time), bind(C, name="nunatak_get_end_time") :: c_get_end_time
  procedure(c_time), bind(C, name="nunatak_get_time_step") :: c_get_time_step
  procedure(c_count), bind(C, name="nunatak_get_input_item_count") :: c_get_input_item_count
  procedure(c_count), bind(C, name="nunatak_get_output_item_count") :: c_get_output_item_count
  procedure(c_nth_name), bind(C, name="nunatak_get_input_var_name") :: c_get_input_var_name
  procedure(c_nth_name), bind(C, name="nunatak_get_output_var_name") :: c_get_output_var_name
  procedure(c_pair), bind(C, name="nunatak_get_grid_spacing") :: c_get_grid_spacing
  procedure(c_pair), bind(C, name="nunatak_get_grid_origin") :: c_get_grid_origin

contains

  ! ---- helpers ----

  !> A Fortran string as a NUL-terminated C string.
  function c_str(text) result(c)
    character(len=*), intent(in) :: text
    character(kind=c_char, len=:), allocatable :: c
    c = trim(text) // c_null_char
  end function c_str

  !> A C string as a Fortran string.
  function f_str(p) result(text)
    type(c_ptr), intent(in) :: p
    character(len=:), allocatable :: text
    character(kind=c_char), pointer :: chars(:)
    integer :: k, n
    if (.not. c_associated(p)) then
       text = ""
       return
    end if
    n = int(c_strlen(p))
    call c_f_pointer(p, chars, [n])
    allocate(character(len=n) :: text)
    do k = 1, n
       text(k:k) = chars(k)
    end do
  end function f_str

  !> BMI status of a C status.
  integer function status(c)
    integer(c_int), intent(in) :: c
    status = BMI_FAILURE
    if (c == 0) status = BMI_SUCCESS
  end function status

  !> The names of the input or output variables (kept for the program's life).
  subroutine load_names()
    integer(c_int) :: n, k, s
    type(c_ptr) :: model, p
    if (allocated(input_names)) return
    s = c_create(model)
    s = c_get_input_item_count(model, n)
    allocate(input_names(n))
    do k = 1, n
       s = c_get_input_var_name(model, k - 1, p)
       input_names(k) = f_str(p)
    end do
    s = c_get_output_item_count(model, n)
    allocate(output_names(n))
    do k = 1, n
       s = c_get_output_var_name(model, k - 1, p)
       output_names(k) = f_str(p)
    end do
    call c_destroy(model)
  end subroutine load_names

  ! ---- control ----

  integer function nk_initialize(this, config_file) result(bmi_status)
    class(bmi_nunatak), intent(out) :: this
    character(len=*), intent(in) :: config_file
    bmi_status = BMI_FAILURE
    if (c_create(this%handle) /= 0) return
    bmi_status = status(c_initialize(this%handle, c_str(config_file)))
  end function nk_initialize

  !> initialize on the host's communicator (a Fortran MPI handle).
  integer function nk_initialize_mpi(this, config_file, comm) result(bmi_status)
    class(bmi_nunatak), intent(out) :: this
    character(len=*), intent(in) :: config_file
    integer, intent(in) :: comm
    bmi_status = BMI_FAILURE
    if (c_create(this%handle) /= 0) return
    if (c_set_communicator_f(this%handle, int(comm, c_int)) /= 0) return
    bmi_status = status(c_initialize(this%handle, c_str(config_file)))
  end function nk_initialize_mpi

  integer function nk_update(this) result(bmi_status)
    class(bmi_nunatak), intent(inout) :: this
    bmi_status = status(c_update(this%handle))
  end function nk_update

  integer function nk_update_until(this, time) result(bmi_status)
    class(bmi_nunatak), intent(inout) :: this
    double precision, intent(in) :: time
    bmi_status = status(c_update_until(this%handle, real(time, c_double)))
  end function nk_update_until

  integer function nk_finalize(this) result(bmi_status)
    class(bmi_nunatak), intent(inout) :: this
    bmi_status = status(c_finalize(this%handle))
    call c_destroy(this%handle)
    this%handle = c_null_ptr
  end function nk_finalize

  !> Why the last call failed ("" if it did not).
  function nk_last_error(this) result(text)
    class(bmi_nunatak), intent(in) :: this
    character(len=:), allocatable :: text
    text = f_str(c_last_error(this%handle))
  end function nk_last_error

  ! ---- exchange items ----

  integer function nk_component_name(this, name) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), pointer, intent(out) :: name
    name => component_name
    bmi_status = BMI_SUCCESS
  end function nk_component_name

  integer function nk_input_item_count(this, count) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(out) :: count
    call load_names()
    count = size(input_names)
    bmi_status = BMI_SUCCESS
  end function nk_input_item_count

  integer function nk_output_item_count(this, count) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(out) :: count
    call load_names()
    count = size(output_names)
    bmi_status = BMI_SUCCESS
  end function nk_output_item_count

  integer function nk_input_var_names(this, names) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), pointer, intent(out) :: names(:)
    call load_names()
    names => input_names
    bmi_status = BMI_SUCCESS
  end function nk_input_var_names

  integer function nk_output_var_names(this, names) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), pointer, intent(out) :: names(:)
    call load_names()
    names => output_names
    bmi_status = BMI_SUCCESS
  end function nk_output_var_names

  ! ---- variables ----

  !> BMI_SUCCESS if `name` is one of nunatak's variables (then its units).
  integer function known(this, name, units) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    character(len=:), allocatable, intent(out), optional :: units
    type(c_ptr) :: p
    bmi_status = status(c_get_var_units(this%handle, c_str(name), p))
    if (present(units)) units = f_str(p)
  end function known

  integer function nk_var_type(this, name, type) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    character(len=*), intent(out) :: type
    type = "double precision"
    bmi_status = known(this, name)
  end function nk_var_type

  integer function nk_var_units(this, name, units) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    character(len=*), intent(out) :: units
    character(len=:), allocatable :: text
    bmi_status = known(this, name, text)
    units = text
  end function nk_var_units

  integer function nk_var_itemsize(this, name, size) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    integer, intent(out) :: size
    size = int(c_sizeof(0d0))
    bmi_status = known(this, name)
  end function nk_var_itemsize

  integer function nk_var_nbytes(this, name, nbytes) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    integer, intent(out) :: nbytes
    integer :: cells
    nbytes = 0
    bmi_status = known(this, name)
    if (bmi_status /= BMI_SUCCESS) return
    bmi_status = nk_grid_size(this, 0, cells)
    nbytes = cells * int(c_sizeof(0d0))
  end function nk_var_nbytes

  integer function nk_var_grid(this, name, grid) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    integer, intent(out) :: grid
    grid = 0
    bmi_status = known(this, name)
  end function nk_var_grid

  integer function nk_var_location(this, name, location) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    character(len=*), intent(out) :: location
    location = "node"
    bmi_status = known(this, name)
  end function nk_var_location

  ! ---- time ----

  integer function nk_start_time(this, time) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    double precision, intent(out) :: time
    real(c_double) :: t
    bmi_status = status(c_get_start_time(this%handle, t))
    time = t
  end function nk_start_time

  integer function nk_end_time(this, time) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    double precision, intent(out) :: time
    real(c_double) :: t
    bmi_status = status(c_get_end_time(this%handle, t))
    time = t
  end function nk_end_time

  integer function nk_current_time(this, time) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    double precision, intent(out) :: time
    real(c_double) :: t
    bmi_status = status(c_get_current_time(this%handle, t))
    time = t
  end function nk_current_time

  integer function nk_time_step(this, time_step) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    double precision, intent(out) :: time_step
    real(c_double) :: t
    bmi_status = status(c_get_time_step(this%handle, t))
    time_step = t
  end function nk_time_step

  integer function nk_time_units(this, units) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(out) :: units
    units = "years"
    bmi_status = BMI_SUCCESS
  end function nk_time_units

  ! ---- grid ----

  !> Where the rank's part lies in the whole grid (indices from 1).
  integer function nk_grid_partition(this, x_start, y_start, nx, ny, global_nx, global_ny) &
       result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(out) :: x_start, y_start, nx, ny, global_nx, global_ny
    integer(c_int) :: xs, ys, n1, n2, g1, g2
    bmi_status = status(c_get_grid_partition(this%handle, xs, ys, n1, n2, g1, g2))
    x_start = xs + 1
    y_start = ys + 1
    nx = n1
    ny = n2
    global_nx = g1
    global_ny = g2
  end function nk_grid_partition

  integer function nk_grid_type(this, grid, type) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    character(len=*), intent(out) :: type
    type = "uniform_rectilinear"
    bmi_status = merge(BMI_SUCCESS, BMI_FAILURE, grid == 0)
  end function nk_grid_type

  integer function nk_grid_rank(this, grid, rank) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    integer, intent(out) :: rank
    rank = 2
    bmi_status = merge(BMI_SUCCESS, BMI_FAILURE, grid == 0)
  end function nk_grid_rank

  integer function nk_grid_shape(this, grid, shape) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    integer, dimension(:), intent(out) :: shape
    integer :: xs, ys, nx, ny, gx, gy
    bmi_status = BMI_FAILURE
    if (grid /= 0 .or. size(shape) < 2) return
    bmi_status = nk_grid_partition(this, xs, ys, nx, ny, gx, gy)
    shape(1:2) = [ny, nx]
  end function nk_grid_shape

  integer function nk_grid_size(this, grid, size) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    integer, intent(out) :: size
    integer :: xs, ys, nx, ny, gx, gy
    size = 0
    bmi_status = BMI_FAILURE
    if (grid /= 0) return
    bmi_status = nk_grid_partition(this, xs, ys, nx, ny, gx, gy)
    size = nx * ny
  end function nk_grid_size

  integer function nk_grid_spacing(this, grid, spacing) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    double precision, dimension(:), intent(out) :: spacing
    real(c_double) :: dx, dy
    bmi_status = BMI_FAILURE
    if (grid /= 0 .or. size(spacing) < 2) return
    bmi_status = status(c_get_grid_spacing(this%handle, dx, dy))
    spacing(1:2) = [dy, dx]
  end function nk_grid_spacing

  integer function nk_grid_origin(this, grid, origin) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    double precision, dimension(:), intent(out) :: origin
    real(c_double) :: x0, y0
    bmi_status = BMI_FAILURE
    if (grid /= 0 .or. size(origin) < 2) return
    bmi_status = status(c_get_grid_origin(this%handle, x0, y0))
    origin(1:2) = [y0, x0]
  end function nk_grid_origin

  integer function nk_grid_x(this, grid, x) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    double precision, dimension(:), intent(out) :: x
    double precision :: spacing(2), origin(2)
    integer :: shape(2), k
    bmi_status = nk_grid_shape(this, grid, shape)
    if (bmi_status == BMI_SUCCESS) bmi_status = nk_grid_spacing(this, grid, spacing)
    if (bmi_status == BMI_SUCCESS) bmi_status = nk_grid_origin(this, grid, origin)
    if (bmi_status /= BMI_SUCCESS .or. size(x) < shape(2)) then
       bmi_status = BMI_FAILURE
       return
    end if
    do k = 1, shape(2)
       x(k) = origin(2) + (k - 1) * spacing(2)
    end do
  end function nk_grid_x

  integer function nk_grid_y(this, grid, y) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    double precision, dimension(:), intent(out) :: y
    double precision :: spacing(2), origin(2)
    integer :: shape(2), k
    bmi_status = nk_grid_shape(this, grid, shape)
    if (bmi_status == BMI_SUCCESS) bmi_status = nk_grid_spacing(this, grid, spacing)
    if (bmi_status == BMI_SUCCESS) bmi_status = nk_grid_origin(this, grid, origin)
    if (bmi_status /= BMI_SUCCESS .or. size(y) < shape(1)) then
       bmi_status = BMI_FAILURE
       return
    end if
    do k = 1, shape(1)
       y(k) = origin(1) + (k - 1) * spacing(1)
    end do
  end function nk_grid_y

  !> A 2-D grid has no z.
  integer function nk_grid_z(this, grid, z) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    double precision, dimension(:), intent(out) :: z
    bmi_status = BMI_FAILURE
  end function nk_grid_z

  !> Node/edge/face counts: for unstructured grids only.
  integer function nk_grid_count(this, grid, count) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    integer, intent(out) :: count
    count = 0
    bmi_status = BMI_FAILURE
  end function nk_grid_count

  !> Connectivity (edge_nodes): for unstructured grids only.
  integer function nk_grid_edge_nodes(this, grid, edge_nodes) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    integer, dimension(:), intent(out) :: edge_nodes
    bmi_status = BMI_FAILURE
  end function nk_grid_edge_nodes

  !> Connectivity (face_edges): for unstructured grids only.
  integer function nk_grid_face_edges(this, grid, face_edges) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    integer, dimension(:), intent(out) :: face_edges
    bmi_status = BMI_FAILURE
  end function nk_grid_face_edges

  !> Connectivity (face_nodes): for unstructured grids only.
  integer function nk_grid_face_nodes(this, grid, face_nodes) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    integer, dimension(:), intent(out) :: face_nodes
    bmi_status = BMI_FAILURE
  end function nk_grid_face_nodes

  !> Connectivity (nodes_per_face): for unstructured grids only.
  integer function nk_grid_nodes_per_face(this, grid, nodes_per_face) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    integer, intent(in) :: grid
    integer, dimension(:), intent(out) :: nodes_per_face
    bmi_status = BMI_FAILURE
  end function nk_grid_nodes_per_face

  ! ---- values: doubles; int and float are not nunatak's types ----

  integer function nk_get_double(this, name, dest) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    double precision, intent(inout) :: dest(:)
    real(c_double), allocatable :: values(:)
    integer :: cells
    bmi_status = nk_grid_size(this, 0, cells)
    if (bmi_status /= BMI_SUCCESS) return
    if (size(dest) < cells) then
       bmi_status = BMI_FAILURE
       return
    end if
    allocate(values(cells))
    bmi_status = status(c_get_value(this%handle, c_str(name), values))
    if (bmi_status == BMI_SUCCESS) dest(1:cells) = values
  end function nk_get_double

  integer function nk_get_at_double(this, name, dest, inds) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    double precision, intent(inout) :: dest(:)
    integer, intent(in) :: inds(:)
    real(c_double), allocatable :: values(:)
    bmi_status = BMI_FAILURE
    if (size(dest) < size(inds)) return
    allocate(values(size(inds)))
    bmi_status = status(c_get_value_at_indices(this%handle, c_str(name), values, &
         int(inds - 1, c_int), int(size(inds), c_int)))
    if (bmi_status == BMI_SUCCESS) dest(1:size(inds)) = values
  end function nk_get_at_double

  integer function nk_set_double(this, name, src) result(bmi_status)
    class(bmi_nunatak), intent(inout) :: this
    character(len=*), intent(in) :: name
    double precision, intent(in) :: src(:)
    integer :: cells
    bmi_status = nk_grid_size(this, 0, cells)
    if (bmi_status /= BMI_SUCCESS) return
    if (size(src) < cells) then
       bmi_status = BMI_FAILURE
       return
    end if
    bmi_status = status(c_set_value(this%handle, c_str(name), real(src(1:cells), c_double)))
  end function nk_set_double

  integer function nk_set_at_double(this, name, inds, src) result(bmi_status)
    class(bmi_nunatak), intent(inout) :: this
    character(len=*), intent(in) :: name
    integer, intent(in) :: inds(:)
    double precision, intent(in) :: src(:)
    bmi_status = BMI_FAILURE
    if (size(src) < size(inds)) return
    bmi_status = status(c_set_value_at_indices(this%handle, c_str(name), int(inds - 1, c_int), &
         int(size(inds), c_int), real(src(1:size(inds)), c_double)))
  end function nk_set_at_double

  integer function nk_get_int(this, name, dest) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    integer, intent(inout) :: dest(:)
    bmi_status = BMI_FAILURE
  end function nk_get_int

  integer function nk_get_float(this, name, dest) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    real, intent(inout) :: dest(:)
    bmi_status = BMI_FAILURE
  end function nk_get_float

  integer function nk_get_ptr_int(this, name, dest_ptr) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    integer, pointer, intent(inout) :: dest_ptr(:)
    bmi_status = BMI_FAILURE
  end function nk_get_ptr_int

  integer function nk_get_ptr_float(this, name, dest_ptr) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    real, pointer, intent(inout) :: dest_ptr(:)
    bmi_status = BMI_FAILURE
  end function nk_get_ptr_float

  !> Not available: a rank's part of a field with ghost cells is not one block of memory.
  integer function nk_get_ptr_double(this, name, dest_ptr) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    double precision, pointer, intent(inout) :: dest_ptr(:)
    bmi_status = BMI_FAILURE
  end function nk_get_ptr_double

  integer function nk_get_at_int(this, name, dest, inds) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    integer, intent(inout) :: dest(:)
    integer, intent(in) :: inds(:)
    bmi_status = BMI_FAILURE
  end function nk_get_at_int

  integer function nk_get_at_float(this, name, dest, inds) result(bmi_status)
    class(bmi_nunatak), intent(in) :: this
    character(len=*), intent(in) :: name
    real, intent(inout) :: dest(:)
    integer, intent(in) :: inds(:)
    bmi_status = BMI_FAILURE
  end function nk_get_at_float

  integer function nk_set_int(this, name, src) result(bmi_status)
    class(bmi_nunatak), intent(inout) :: this
    character(len=*), intent(in) :: name
    integer, intent(in) :: src(:)
    bmi_status = BMI_FAILURE
  end function nk_set_int

  integer function nk_set_float(this, name, src) result(bmi_status)
    class(bmi_nunatak), intent(inout) :: this
    character(len=*), intent(in) :: name
    real, intent(in) :: src(:)
    bmi_status = BMI_FAILURE
  end function nk_set_float

  integer function nk_set_at_int(this, name, inds, src) result(bmi_status)
    class(bmi_nunatak), intent(inout) :: this
    character(len=*), intent(in) :: name
    integer, intent(in) :: inds(:)
    integer, intent(in) :: src(:)
    bmi_status = BMI_FAILURE
  end function nk_set_at_int

  integer function nk_set_at_float(this, name, inds, src) result(bmi_status)
    class(bmi_nunatak), intent(inout) :: this
    character(len=*), intent(in) :: name
    integer, intent(in) :: inds(:)
    real, intent(in) :: src(:)
    bmi_status = BMI_FAILURE
  end function nk_set_at_float

end module bminunatak
