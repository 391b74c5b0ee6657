! A host ice-sheet/climate driver that couples nunatak through BMI
! (docs/coupling.md): it owns MPI, passes its communicator, sets the surface
! mass balance every year, steps nunatak, reads back thickness and
! velocity, and at the end writes the whole thickness field (gathered on
! rank 0) as raw doubles, row-major [y][x].
!
!   mpirun -n 2 nunatak_fortran_host CONFIG.yaml OFFSET OUT.bin
!
! The host's climate: the SMB nunatak reads from its configuration at the
! start, plus OFFSET (m/a of ice, as kg m-2 a-1 with an ice density of 910),
! set again each year. `nunatak run CONFIG --set
! surface_mass_balance.offset=OFFSET` runs the same experiment on its own,
! which tests/test_coupling.cpp checks.
program host_driver
  use mpi
  use bmif_2_0
  use bminunatak
  implicit none

  type(bmi_nunatak) :: ice
  integer :: ierr, rank, ranks, cells, year
  integer :: x_start, y_start, nx, ny, global_nx, global_ny
  character(len=1024) :: config, offset_text, output
  character(len=BMI_MAX_UNITS_NAME) :: units
  double precision :: offset, t, t_end, spacing(2), volume, local_volume, speed
  double precision, allocatable :: smb_start(:), smb(:), thk(:), u(:), v(:)

  call mpi_init(ierr)
  call mpi_comm_rank(MPI_COMM_WORLD, rank, ierr)
  call mpi_comm_size(MPI_COMM_WORLD, ranks, ierr)
  if (command_argument_count() /= 3) then
     if (rank == 0) print '(a)', "usage: nunatak_fortran_host CONFIG.yaml OFFSET OUT.bin"
     call mpi_abort(MPI_COMM_WORLD, 2, ierr)
  end if
  call get_command_argument(1, config)
  call get_command_argument(2, offset_text)
  call get_command_argument(3, output)
  read (offset_text, *) offset

  call check(ice%initialize_mpi(trim(config), MPI_COMM_WORLD), "initialize")
  call check(ice%get_grid_partition(x_start, y_start, nx, ny, global_nx, global_ny), &
       "get_grid_partition")
  call check(ice%get_grid_size(0, cells), "get_grid_size")
  call check(ice%get_grid_spacing(0, spacing), "get_grid_spacing")
  call check(ice%get_var_units("land_ice_surface__mass_balance_rate", units), "get_var_units")
  allocate(smb_start(cells), smb(cells), thk(cells), u(cells), v(cells))
  call check(ice%get_value("land_ice_surface__mass_balance_rate", smb_start), "get_value smb")
  call check(ice%get_start_time(t), "get_start_time")
  call check(ice%get_end_time(t_end), "get_end_time")
  if (rank == 0) print '(a,i0,a,i0,a,i0,a,a)', "host: ", ranks, " rank(s), grid ", global_nx, &
       " x ", global_ny, ", SMB in ", trim(units)

  year = 0
  do while (t < t_end)
     ! The host's climate for this year.
     smb = smb_start + offset * 910d0
     call check(ice%set_value("land_ice_surface__mass_balance_rate", smb), "set_value smb")
     call check(ice%update_until(min(t + 1d0, t_end)), "update_until")
     call check(ice%get_current_time(t), "get_current_time")
     year = year + 1
     ! What the host reads back each year.
     call check(ice%get_value("land_ice__thickness", thk), "get_value thickness")
     call check(ice%get_value("land_ice_surface__x_component_of_velocity", u), "get_value u")
     call check(ice%get_value("land_ice_surface__y_component_of_velocity", v), "get_value v")
     if (mod(year, 100) == 0 .or. t >= t_end) then
        local_volume = sum(thk) * spacing(1) * spacing(2)
        call mpi_allreduce(local_volume, volume, 1, MPI_DOUBLE_PRECISION, MPI_SUM, &
             MPI_COMM_WORLD, ierr)
        call mpi_allreduce(maxval(sqrt(u**2 + v**2)), speed, 1, MPI_DOUBLE_PRECISION, MPI_MAX, &
             MPI_COMM_WORLD, ierr)
        if (rank == 0) print '(a,f8.1,a,es12.5,a,f9.2,a)', "host: year ", t, ", ice volume ", &
             volume * 1d-9, " km3, fastest surface speed ", speed, " m/a"
     end if
  end do

  call write_global(thk)
  call check(ice%finalize(), "finalize")
  call mpi_finalize(ierr)

contains

  !> Stops the run with nunatak's error after a failed call.
  subroutine check(status, what)
    integer, intent(in) :: status
    character(len=*), intent(in) :: what
    if (status == BMI_SUCCESS) return
    print '(a,i0,a,a,a,a)', "host: rank ", rank, ": ", what, " failed: ", ice%last_error()
    call mpi_abort(MPI_COMM_WORLD, 1, ierr)
  end subroutine check

  !> Gathers the ranks' parts of `field` on rank 0 and writes the whole grid.
  subroutine write_global(field)
    double precision, intent(in) :: field(:)
    integer :: box(4), r, i, j, unit
    integer, allocatable :: boxes(:, :), counts(:), displs(:)
    double precision, allocatable :: parts(:), whole(:, :)
    box = [x_start, y_start, nx, ny]
    allocate(boxes(4, ranks), counts(ranks), displs(ranks))
    call mpi_gather(box, 4, MPI_INTEGER, boxes, 4, MPI_INTEGER, 0, MPI_COMM_WORLD, ierr)
    counts = boxes(3, :) * boxes(4, :)
    displs = 0
    do r = 2, ranks
       displs(r) = displs(r - 1) + counts(r - 1)
    end do
    allocate(parts(sum(counts)))
    call mpi_gatherv(field, cells, MPI_DOUBLE_PRECISION, parts, counts, displs, &
         MPI_DOUBLE_PRECISION, 0, MPI_COMM_WORLD, ierr)
    if (rank /= 0) return
    allocate(whole(global_nx, global_ny))
    do r = 1, ranks
       do j = 1, boxes(4, r)
          do i = 1, boxes(3, r)
             whole(boxes(1, r) + i - 1, boxes(2, r) + j - 1) = &
                  parts(displs(r) + (j - 1) * boxes(3, r) + i)
          end do
       end do
    end do
    open (newunit=unit, file=trim(output), access="stream", form="unformatted", &
         status="replace")
    write (unit) whole
    close (unit)
    print '(a,a)', "host: wrote ", trim(output)
  end subroutine write_global

end program host_driver
